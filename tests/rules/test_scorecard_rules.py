"""The scorecard gate by the rules: approvers score criteria; the gate passes on its quorum, the
weighted mean and every floor."""

from __future__ import annotations

from models.commands import Approve, Score
from models.plan import Plan
from tests.rules.sim import DANA, EVE, LI, RAJ, Run, plan_with
from workflows.rules import awaiting

SCORECARD = """key: gap_analysis_approved
        kind: scorecard
        approvers: {roles: [program_manager, transition_lead, executive_sponsor], quorum: 2}
        threshold: 4
        criteria:
          - {key: readiness, weight: 2, floor: 3, evidence: required}
          - {key: staffing, weight: 1}
          - {key: tooling, weight: 1, floor: 2.5}"""


def scorecard_plan() -> Plan:
    return plan_with(
        "key: gap_analysis_approved\n        kind: approval\n        approvers: {roles: [program_manager]}",
        SCORECARD,
    )


def score(by: str, readiness: float, staffing: float, tooling: float, evidence: dict[str, str] | None = None) -> Score:
    scores = {"readiness": readiness, "staffing": staffing, "tooling": tooling}
    return Score(gate="gap_analysis_approved", by=by, scores=scores, evidence=evidence or {"readiness": "doc-1"})


def test_a_scorecard_passes_once_its_quorum_scored_above_the_threshold_and_every_floor():
    run = Run(scorecard_plan())
    gate = run.gate("gap_analysis_approved")
    assert (gate.progress, gate.waiting_for) == ("0/2 scored", [DANA, LI, RAJ])
    run.do(score(LI, 5, 4, 3))
    gate = run.gate("gap_analysis_approved")
    assert (gate.status, gate.progress, gate.waiting_for) == ("open", "1/2 scored, 4.2 of 4.0", [DANA, RAJ])
    run.do(score(RAJ, 4, 3, 4))
    assert run.gate("gap_analysis_approved").status == "passed"
    [row] = [e for e in run.audit if e.kind == "scored" and e.actor == RAJ]
    assert row.detail["scores"] == {"readiness": 4, "staffing": 3, "tooling": 4}


def test_a_scorecard_below_a_floor_stays_open_and_says_which_until_a_rescore_replaces_it():
    run = Run(scorecard_plan())
    run.do(score(LI, 5, 5, 2))
    run.do(score(RAJ, 5, 5, 2))
    gate = run.gate("gap_analysis_approved")
    assert gate.status == "open"
    assert gate.progress == "2/2 scored, 4.2 of 4.0, below floor: tooling 2.0 < 2.5"
    run.do(score(RAJ, 5, 5, 4))  # replaces Raj's scores: tooling's mean is 3 now
    assert run.gate("gap_analysis_approved").status == "passed"
    assert [e.detail["repeat"] for e in run.audit if e.kind == "scored"] == [False, False, True]


def test_a_scorecard_below_the_threshold_stays_open():
    run = Run(scorecard_plan())
    run.do(score(LI, 4, 3, 3))
    run.do(score(RAJ, 4, 3, 3))
    gate = run.gate("gap_analysis_approved")
    assert (gate.status, gate.progress) == ("open", "2/2 scored, 3.5 of 4.0")


def test_a_scoring_is_refused_in_clear_words_for_what_it_gets_wrong():
    run = Run(scorecard_plan())
    bad = Score(gate="gap_analysis_approved", by=LI, scores={"readiness": 4, "staffing": 4, "tooling": 4, "vibes": 5})
    assert "unknown criterion 'vibes' of gate 'gap_analysis_approved'; its criteria: readiness, staffing, tooling" in (
        run.refused(bad, "UnknownItem")
    )
    partial = Score(gate="gap_analysis_approved", by=LI, scores={"readiness": 4})
    assert "missing: staffing, tooling" in run.refused(partial, "BadInput")
    assert "tooling scored 6; gate 'gap_analysis_approved' scores from 1 to 5" in run.refused(
        score(LI, 4, 4, 6), "BadInput"
    )
    assert "needs evidence with the scores of readiness" in run.refused(
        score(LI, 4, 4, 4, {"staffing": "doc-2"}), "EvidenceRequired"
    )
    assert "may not sign off gate 'gap_analysis_approved'" in run.refused(score(EVE, 4, 4, 4), "NotAllowed")
    assert "is a scorecard gate and is not approved" in run.refused(
        Approve(gate="gap_analysis_approved", by=LI), "WrongGateKind"
    )
    assert "not a scorecard; nothing to score" in run.refused(
        Score(gate="slas_signed", by=DANA, scores={"readiness": 4}), "WrongGateKind"
    )


def test_the_people_a_scorecard_awaits_are_asked_to_score_it_and_may_score_on_its_page():
    run = Run(scorecard_plan())
    asked = [n for n in run.sent("approval_requested") if "gap_analysis_approved" in n.subject]
    assert asked and "to score the criteria of the gate 'gap_analysis_approved'" in asked[0].text
    assert "score" in awaiting.options(run.machine, LI)["gap_analysis_approved"]
    assert "score" not in awaiting.options(run.machine, EVE)["gap_analysis_approved"]
