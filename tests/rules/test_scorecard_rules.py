"""The scorecard gate by the rules: approvers score criteria; the gate passes on its quorum, the
weighted mean and every floor."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from models.commands import Approve, Delegate, RecordReadings, Score
from models.plan import Plan
from models.plan_loader import parse_plan
from tests.rules.sim import DANA, EVE, LI, RAJ, REFERENCE_PLAN, Run, plan_with
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
    asked = [n for n in run.sent("approval_requested") if "Gap analysis approved" in n.subject]
    assert asked and "to score the criteria of the gate 'Gap analysis approved'" in asked[0].text
    assert "score" in awaiting.options(run.machine, LI)["gap_analysis_approved"]
    assert "score" not in awaiting.options(run.machine, EVE)["gap_analysis_approved"]


G = "gap_analysis_approved"
OLD = "key: gap_analysis_approved\n        kind: approval\n        approvers: {roles: [program_manager]}"
ALL = "{roles: [program_manager, transition_lead], rule: all}"


def card(criteria: list[str], extra: str, approvers: str = ALL) -> Plan:
    body = "".join(f"\n          - {c}" for c in criteria)
    return plan_with(
        OLD,
        f"key: {G}\n        kind: scorecard\n        approvers: {approvers}\n        {extra}\n        criteria:{body}",
    )


def test_top_scores_pass_a_threshold_at_the_top_of_the_scale_whatever_the_weights():
    # (0.1*5 + 0.2*5) / (0.1 + 0.2) is 4.999... in floats
    run = Run(card(["{key: a, weight: 0.1}", "{key: b, weight: 0.2}"], "threshold: 5"))
    for who in (LI, RAJ):
        run.do(Score(gate=G, by=who, scores={"a": 5, "b": 5}))
    gate = run.gate(G)
    assert (gate.status, gate.progress) == ("passed", "2/2 scored, 5.0 of 5.0")


def test_everyone_scoring_exactly_a_floor_is_at_the_floor_not_below_it():
    approvers = "{roles: [program_manager, transition_lead, executive_sponsor], rule: all}"
    run = Run(card(["{key: a, weight: 1, floor: 0.7}"], "threshold: 0.5\n        scale: [0, 1]", approvers))
    for who in (DANA, LI, RAJ):
        run.do(Score(gate=G, by=who, scores={"a": 0.7}))
    gate = run.gate(G)
    assert gate.status == "passed" and "below floor" not in gate.progress, gate.progress


def test_a_mean_just_below_the_threshold_never_reads_as_reaching_it():
    run = Run(card(["{key: a, weight: 1}"], "threshold: 4"))
    run.do(Score(gate=G, by=LI, scores={"a": 4}))
    run.do(Score(gate=G, by=RAJ, scores={"a": 3.92}))
    gate = run.gate(G)
    assert (gate.status, gate.progress) == ("open", "2/2 scored, 3.96 of 4.0")


def test_a_mean_just_below_a_floor_never_reads_as_reaching_it():
    run = Run(card(["{key: a, weight: 1, floor: 3}"], "threshold: 1"))
    run.do(Score(gate=G, by=LI, scores={"a": 3}))
    run.do(Score(gate=G, by=RAJ, scores={"a": 2.98}))
    gate = run.gate(G)
    assert gate.status == "open" and gate.progress.endswith("below floor: a 2.99 < 3"), gate.progress


def delegated(run: Run, until_days: int = 30) -> None:
    run.do(Delegate(by=LI, person=LI, to=RAJ, until=(run.now + timedelta(days=until_days)).date()))


def test_a_delegate_who_is_an_approver_scores_first_for_themself_then_for_their_principal():
    run = Run(card(["{key: a, weight: 1}"], "threshold: 3"))
    delegated(run)
    run.do(Score(gate=G, by=RAJ, scores={"a": 5}))
    assert run.gate(G).waiting_for == [LI]
    run.do(Score(gate=G, by=RAJ, scores={"a": 4}))
    assert run.gate(G).status == "passed"
    [mine, theirs] = [e for e in run.audit if e.kind == "scored"]
    assert "for" not in mine.detail and theirs.detail["for"] == LI


def test_a_delegate_covering_two_people_scores_for_each_in_turn():
    approvers = "{roles: [program_manager, transition_lead, executive_sponsor], rule: all}"
    run = Run(card(["{key: a, weight: 1}"], "threshold: 3", approvers))
    until = (run.now + timedelta(days=30)).date()
    run.do(Delegate(by=LI, person=LI, to=RAJ, until=until))
    run.do(Delegate(by=DANA, person=DANA, to=RAJ, until=until))
    for _ in range(3):
        run.do(Score(gate=G, by=RAJ, scores={"a": 5}))
    assert run.gate(G).status == "passed"
    assert sorted(e.detail.get("for", RAJ) for e in run.audit if e.kind == "scored") == sorted([DANA, LI, RAJ])


def test_a_scorecards_scores_are_not_read_as_kpi_readings():
    # a person id and a period label may look alike ("li"); a criterion and a KPI may share a key
    text = (
        REFERENCE_PLAN.read_text()
        .replace(LI, "li")
        .replace(
            OLD,
            f"key: {G}\n        kind: scorecard\n        approvers: {ALL}\n        threshold: 1\n"
            "        criteria:\n          - {key: csat, weight: 1}",
        )
    )
    run = Run(parse_plan(text, env={}).plan)
    run.do(Score(gate=G, by="li", scores={"csat": 2}))
    run.do(RecordReadings(by="li", period="li", values={"csat": 91.0}))
    corrected = [e for e in run.audit if e.kind in ("kpi_reading", "kpi_corrected")]
    assert [e.kind for e in corrected] == ["kpi_reading"]
    assert "was" not in corrected[0].detail


def test_a_score_that_is_not_a_finite_number_is_refused_in_our_words_before_the_rules():
    for value in ("nan", float("inf"), "1e999"):
        with pytest.raises(ValidationError) as refused:
            Score(gate=G, by=LI, scores={"a": value})  # type: ignore[dict-item]
        assert "a: " in str(refused.value) and "is not a finite number" in str(refused.value)
