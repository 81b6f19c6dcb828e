"""A scorecard gate in a plan file, through `bpo validate`: a sound one is valid; a floor or a
threshold outside the scale, or a criterion twice, is refused with its line."""

from __future__ import annotations

from pathlib import Path

from starter import main
from tests.conftest import REFERENCE_PLAN
from tests.rules.test_scorecard_rules import SCORECARD

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
