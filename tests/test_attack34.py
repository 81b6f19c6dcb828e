"""Attack on the writer's lighter process and the lazier `bpo` (branch ``attack34``).

What an operator gives: a connections file (``BPO_CONNECTIONS``) now read by a lazily imported
YAML. One saved in a legacy encoding (Windows-1252, as a text editor on Windows may) is not YAML
the loader can read; `bpo` and the worker must say so in words, naming the setting and the file,
as they do for a file that is not valid YAML, not "failed: UnicodeDecodeError".

The writer started from `worker.py` (``bpo-worker``, ``python worker.py``) loading only what
writing needs is a case of `tests/test_audit_writer.py`'s test of the writing process.
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
