"""Attack on attack 34's leftovers and the worker's lighter sandbox (branch ``attack35``).

What an outsider gives: a plan as deep as its size allows (``[[[[…]]]]``, half a megabyte) is
refused as nested too deep, but only after the alias check has scanned every one of its tokens,
some two minutes of CPU: `bpo validate` hangs, and the web app's upload or amend form, which reads
the plan in its event loop, stops answering everybody meanwhile. The depth is checked first now:
it stops at the 65th level.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from models.plan_loader import MAX_PLAN_BYTES, PlanError, parse_plan

ROOT = Path(__file__).resolve().parent.parent


def _deepest_plan() -> str:
    """A plan of lists nested as deep as the plan's size allows."""
    levels = (MAX_PLAN_BYTES - 16) // 2
    return "[" * levels + "]" * levels


def test_a_plan_as_deep_as_its_size_allows_is_refused_at_once(tmp_path: Path):
    plan = tmp_path / "deep.yaml"
    plan.write_text(_deepest_plan())
    env = {**os.environ, "BPO_DATA_DIR": str(tmp_path / "data"), "BPO_CONNECTIONS": ""}
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "starter", "validate", str(plan)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,  # before: some two minutes, scanning every bracket for an alias
    )
    said = done.stdout + done.stderr
    assert done.returncode == 2, said
    assert f"{plan}:1: (top): the plan is nested deeper than 64 levels" in said, said
    assert time.monotonic() - began < 60


def test_the_web_forms_reader_refuses_the_deepest_plan_in_a_moment():
    """The web app's start and amend forms call `parse_plan` in the event loop: every page waits
    for it."""
    began = time.monotonic()
    try:
        parse_plan(_deepest_plan(), source="deep.yaml", env={})
    except PlanError as error:
        assert "nested deeper than 64 levels" in str(error), str(error)
    else:
        raise AssertionError("a plan nested that deep was taken")
    assert time.monotonic() - began < 10, f"the web app stood still for {time.monotonic() - began:.0f} s"
