"""A scorecard gate in a plan file, through `bpo validate`: a sound one is valid; a floor or a
threshold outside the scale, or a criterion twice, is refused with its line; approvers score it with
`bpo score` on the real engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from starter import main
from tests.conftest import REFERENCE_PLAN
from tests.rules.test_scorecard_rules import SCORECARD
from tests.stack import LI, RAJ, Stack

APPROVAL = "key: gap_analysis_approved\n        kind: approval\n        approvers: {roles: [program_manager]}"


def write(tmp_path: Path, scorecard: str) -> Path:
    text = REFERENCE_PLAN.read_text()
    assert APPROVAL in text
    plan = tmp_path / "plan.yaml"
    plan.write_text(text.replace(APPROVAL, scorecard, 1))
    return plan


def test_bpo_validate_takes_a_sound_scorecard_gate(tmp_path, capsys):
    assert main(["validate", str(write(tmp_path, SCORECARD))]) in (0, None)
    assert ": valid:" in capsys.readouterr().out


def test_bpo_validate_refuses_a_scorecard_floor_or_threshold_off_its_scale_with_their_lines(tmp_path, capsys):
    broken = (
        SCORECARD.replace("floor: 3, evidence", "floor: 6, evidence")
        .replace("threshold: 4", "threshold: 0.5")
        .replace("{key: tooling,", "{key: staffing,")
    )
    plan = write(tmp_path, broken)
    assert main(["validate", str(plan)]) == 2
    err = capsys.readouterr().err
    line = 1 + plan.read_text().splitlines().index(
        "          - {key: readiness, weight: 2, floor: 6, evidence: required}"
    )
    assert (
        f"plan.yaml:{line}: phases[0].gates[0].criteria[0].floor: floor 6 of 'readiness' is outside the scale 1 to 5"
        in err
    )
    assert "phases[0].gates[0].threshold: threshold 0.5 is outside the scale 1 to 5" in err
    assert "phases[0].gates[0].criteria[2].key: criterion 'staffing' appears twice" in err


def test_bpo_simulate_scores_a_scorecard_so_that_it_passes():
    from bpo.simulate import decisions
    from tests.rules.sim import Run
    from tests.rules.test_scorecard_rules import scorecard_plan

    run = Run(scorecard_plan())
    for command in decisions(run.machine.plan, run.status()):
        if getattr(command, "gate", None) == "gap_analysis_approved":
            run.do(command)
    assert run.gate("gap_analysis_approved").status == "passed"


@pytest.mark.e2e
def test_approvers_score_a_scorecard_with_bpo_score_on_the_real_engine_and_it_passes(tmp_path):
    s = Stack(tmp_path)
    s.start_server()
    s.start_worker()
    try:
        tid = s.ok("start", str(write(tmp_path, SCORECARD)), "--id", "scored").strip()
        bad = s.bpo("score", tid, "gap_analysis_approved", "--scores", "readiness", "--by", LI)
        assert bad.returncode == 2 and "--scores: 'readiness' is not KEY=VALUE" in bad.stderr
        unbacked = s.bpo("score", tid, "gap_analysis_approved", "--scores", "readiness=4", "staffing=4",
                         "tooling=4", "--by", LI)  # fmt: skip
        assert unbacked.returncode == 2 and "readiness" in unbacked.stderr and "Traceback" not in unbacked.stderr
        s.ok("score", tid, "gap_analysis_approved", "--scores", "readiness=4", "staffing=5", "tooling=4",
             "--evidence", "readiness=minutes RD-7", "--by", LI)  # fmt: skip
        gate = next(g for g in s.status(tid)["gates"] if g["key"] == "gap_analysis_approved")
        assert gate["status"] == "open" and gate["progress"].startswith("1/2 scored")
        s.ok("score", tid, "gap_analysis_approved", "--scores", "readiness=5", "staffing=4", "tooling=3",
             "--evidence", "readiness=minutes RD-8", "--by", RAJ)  # fmt: skip
        gate = next(g for g in s.status(tid)["gates"] if g["key"] == "gap_analysis_approved")
        assert gate["status"] == "passed"
        assert "scored" in s.ok("audit", tid)
    finally:
        s.stop()
