"""Attack on the writer's lighter process and the lazier `bpo` (branch ``attack34``).

What an operator gives: a connections file (``BPO_CONNECTIONS``) now read by a lazily imported
YAML. One saved in a legacy encoding (Windows-1252, as a text editor on Windows may) is not YAML
the loader can read; `bpo` and the worker must say so in words, naming the setting and the file,
as they do for a file that is not valid YAML, not "failed: UnicodeDecodeError".

What attack 34 also found, mended later: a plan or connections file nested a few thousand levels
deep (``[[[[…]]]]``, well within a plan's size) stopped PyYAML's recursive builder with "failed:
RecursionError"; and ``bpo-worker``/``python worker.py`` printed a traceback where ``bpo worker``
said in words that no server answers. They are the same command now.

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


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def _validate_with_notes(tmp_path: Path, levels: int) -> tuple[Path, str]:
    """`bpo validate` of the reference plan with a ``notes`` list nesting ``levels`` lists more
    (the plan's mapping and the notes' list are two levels already)."""
    plan, connections = tmp_path / "deep.yaml", tmp_path / "connections.yaml"
    plan.write_text(REFERENCE.read_text() + f"\nnotes:\n  - {_deep(levels)}\n")
    connections.write_text("")
    done = _bpo(tmp_path, connections, "validate", str(plan))
    return plan, f"{done.returncode}:{done.stdout}{done.stderr}"


@pytest.mark.parametrize("levels", [100, 5000])
def test_a_plan_nested_too_deep_is_refused_with_its_line(tmp_path: Path, levels: int):
    plan, said = _validate_with_notes(tmp_path, levels)
    assert said.startswith("2:"), said
    line = REFERENCE.read_text().count("\n") + 3
    assert f"{plan}:{line}: (top): the plan is nested deeper than 64 levels" in said, said
    assert "RecursionError" not in said and "Traceback" not in said, said


def test_a_plan_nested_as_deep_as_allowed_reads_on_to_its_other_problems(tmp_path: Path):
    _, said = _validate_with_notes(tmp_path, 62)  # 64 levels in all: as deep as a file may go
    assert "unknown key 'notes'" in said and "nested deeper" not in said, said


@pytest.mark.parametrize("command", [("validate", str(REFERENCE)), ("worker",)])
def test_a_connections_file_nested_too_deep_is_refused_naming_it(tmp_path: Path, command: tuple[str, ...]):
    connections = tmp_path / "connections.yaml"
    connections.write_text(f"connections:\n  - {_deep(5000)}\n")
    done = _bpo(tmp_path, connections, *command)
    said = done.stdout + done.stderr
    assert done.returncode == 2, said
    assert f"BPO_CONNECTIONS: {connections} line 2 is nested deeper than 64 levels" in said, said
    assert "RecursionError" not in said and "Traceback" not in said, said


@pytest.mark.parametrize("script", [["bpo-worker"], [sys.executable, "worker.py"], ["bpo", "worker"]])
def test_every_way_to_start_a_worker_says_in_words_that_no_server_answers(tmp_path: Path, script: list[str]):
    bin_dir = Path(sys.executable).parent
    command = [str(bin_dir / script[0]), *script[1:]] if not script[0].startswith("/") else script
    env = {**os.environ, "BPO_DATA_DIR": str(tmp_path / "data"), "TEMPORAL_ADDRESS": "127.0.0.1:9"}
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    said = done.stdout + done.stderr
    assert done.returncode == 1, said
    assert said.startswith("bpo worker: cannot reach Temporal at 127.0.0.1:9 (namespace default): nothing answers there"), said
    assert "Traceback" not in said and "tonic" not in said, said


def test_a_log_level_logging_does_not_know_is_refused_as_a_setting(tmp_path: Path):
    env = {**os.environ, "BPO_DATA_DIR": str(tmp_path / "data"), "BPO_LOG_LEVEL": "loud"}
    done = subprocess.run([sys.executable, "worker.py"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    said = done.stdout + done.stderr
    assert done.returncode == 2, said
    assert "BPO_LOG_LEVEL: must be one of 'debug', 'info', 'warning', 'error' or 'critical'" in said, said
    assert "Traceback" not in said, said
