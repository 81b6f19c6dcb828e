"""``amendment_`` names the gates of proposed amendments: a plan may not name a gate so (refused
with its line wherever a plan is accepted), and a running plan that already does is decided like
any other gate, never taken for an amendment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from models.commands import Approve
from models.plan import Plan
from tests.conftest import REFERENCE_PLAN
from tests.rules.sim import LI, PLAN, Run

ROOT = Path(__file__).resolve().parent.parent


def bpo(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    """The real `bpo` command line, as a person runs it."""
    env = {"PATH": "/usr/bin:/bin", "BPO_DATA_DIR": str(data), "HOME": str(data)}
    return subprocess.run(
        [sys.executable, "-m", "starter", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_bpo_validate_refuses_a_gate_named_like_an_amendment_with_its_line(tmp_path):
    text = REFERENCE_PLAN.read_text()
    line = text.splitlines().index("      - key: gap_analysis_approved") + 1
    plan = tmp_path / "plan.yaml"
    plan.write_text(text.replace("key: gap_analysis_approved", "key: amendment_review", 1))

    done = bpo("validate", str(plan), data=tmp_path)

    assert done.returncode == 2, done.stderr
    assert f"{plan}:{line}: phases[0].gates[0].key: gate key 'amendment_review' starts with 'amendment_'" in done.stderr
    assert "Traceback" not in done.stderr
    # the reference plan itself is valid: the refusal is the gate's name, nothing else
    assert bpo("validate", str(REFERENCE_PLAN), data=tmp_path).returncode == 0


def test_a_running_plan_with_such_a_gate_approves_it_as_a_gate_not_an_amendment():
    # A plan accepted before the name was kept decodes as it did (the models do not refuse it).
    running = Plan.model_validate_json(PLAN.model_dump_json().replace('"gap_analysis_approved"', '"amendment_review"'))
    run = Run(running)

    run.do(Approve(gate="amendment_review", by=LI))

    assert run.gate("amendment_review").status == "passed"
    assert run.status().amendments == []
