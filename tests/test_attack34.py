"""Attack on the writer's lighter process and the lazier `bpo` (branch ``attack34``).

What an operator gives: a connections file (``BPO_CONNECTIONS``) now read by a lazily imported
YAML. One saved in a legacy encoding (Windows-1252, as a text editor on Windows may) is not YAML
the loader can read; `bpo` and the worker must say so in words, naming the setting and the file,
as they do for a file that is not valid YAML, not "failed: UnicodeDecodeError".
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "examples" / "reference-plan.yaml"


def _bpo(tmp_path: Path, connections: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "BPO_CONNECTIONS": str(connections),
        "BPO_DATA_DIR": str(tmp_path / "data"),
        "TEMPORAL_ADDRESS": "127.0.0.1:9",  # nothing listens: a command past its input checks fails with 1
    }
    return subprocess.run(
        [sys.executable, "-m", "starter", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("command", [("validate", str(REFERENCE)), ("worker",)])
def test_a_connections_file_not_in_utf8_is_refused_in_words_naming_it(tmp_path: Path, command: tuple[str, ...]):
    connections = tmp_path / "connections.yaml"
    connections.write_bytes("connections:\n  - {name: café, kind: sftp}\n".encode("cp1252"))
    done = _bpo(tmp_path, connections, *command)
    said = done.stdout + done.stderr
    assert done.returncode == 2, said
    assert f"BPO_CONNECTIONS: {connections}" in said and "line 2 is not UTF-8 text" in said, said
    assert "UnicodeDecodeError" not in said and "Traceback" not in said, said


def test_the_writing_process_of_a_worker_started_as_bpo_worker_loads_only_what_writing_needs(tmp_path: Path):
    # The writing process is spawned: it imports the worker's main module first. `bpo worker`'s is
    # the light `starter`; `bpo-worker` (the console script) and `python worker.py`, which the
    # README names too, start from `worker.py`, and what that imports at its top the writer
    # loads as well (Temporal, httpx: some 40 MB beside every worker, the change's saving gone).
    script = tmp_path / "bpo-worker"
    script.write_text(
        "from worker import main  # the first line of the bpo-worker console script\n"
        "from activities.audit_writer import AuditWriter, _pool\n"
        "from infra.db import make_engine\n"
        "if __name__ == '__main__':\n"
        f"    writer = AuditWriter(make_engine('sqlite:///{tmp_path}/audit.db'), 1)\n"
        "    writer.warm()\n"
        "    loaded = \"sorted({m.split('.')[0] for m in __import__('sys').modules})\"\n"
        "    print(' '.join(_pool(1, writer.logs).submit(eval, loaded).result()))\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=ROOT, check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120,
    )  # fmt: skip
    loaded = set(done.stdout.split())
    assert {"sqlalchemy", "infra", "models"} <= loaded
    assert not loaded & {"temporalio", "alembic", "httpx", "icalendar"}, sorted(loaded & {"temporalio", "httpx"})
