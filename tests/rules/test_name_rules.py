"""Notices call phases and gates by the names people read (the plan's ``name:``, else the key in
words); a transition recorded before that change keeps its keys, so its history replays."""

from __future__ import annotations

from models.commands import Resume
from models.names import gate_name, in_words, phase_name
from tests.rules.sim import DANA, PLAN, Run, plan_with
from workflows.rules.versions import NOTICE_NAMES, every_change


def before_names(change: str) -> bool:
    """The seam as a history recorded before ``NOTICE_NAMES`` answers it."""
    return change != NOTICE_NAMES


def test_a_gate_without_a_name_reads_as_its_key_in_words_and_a_named_one_by_its_name():
    assert in_words("gap_analysis_approved") == "Gap analysis approved"
    assert gate_name(PLAN, "slas_signed") == "Slas signed"
    assert gate_name(PLAN, "amendment_2") == "Amendment 2", "an amendment's gate is not in the plan"
    named = plan_with("key: slas_signed\n", "key: slas_signed\n        name: Service levels signed\n")
    assert gate_name(named, "slas_signed") == "Service levels signed"
    assert phase_name(PLAN, "knowledge_transfer") == "Training and knowledge transfer"
    assert phase_name(PLAN, "steady_state") == "Steady-state governance"


def test_the_approval_request_names_the_gate_and_the_phase_and_never_the_key():
    run = Run()
    request = next(n for n in run.sent("approval_requested") if n.recipients[0].id == DANA)
    assert request.subject == "[ACME Corp] your decision: Slas signed (Strategic planning)"
    assert "the gate 'Slas signed' of Strategic planning" in request.text
    assert "slas_signed" not in request.subject + request.text
    assert request.detail["gate"] == "slas_signed", "the key stays in what machines read"


def test_a_rejection_past_its_reworks_tells_and_pauses_by_the_gates_name():
    run = Run(plan_with("on_reject: {back_to: knowledge_transfer, max_reworks: 2}", "on_reject: null"))
    run.reach_pilot()
    status = run.reject("pilot_go", DANA)
    assert status.pause_reason is not None and status.pause_reason.startswith("gate 'Pilot go' rejected")
    [halted] = run.sent("gate_rejected")
    assert "'Pilot go'" in halted.subject + halted.text and "pilot_go" not in halted.subject + halted.text
    run.do(Resume(by=DANA))
    assert "gates reopened: Pilot go." in run.sent("resumed")[-1].text


def test_a_transition_recorded_before_the_change_keeps_the_keys_its_notices_had():
    old, new = Run(patched=before_names), Run(patched=every_change)
    request = next(n for n in old.sent("approval_requested") if n.recipients[0].id == DANA)
    assert request.subject == "[ACME Corp] your decision: slas_signed (Strategic planning)"
    assert "the gate 'slas_signed' of Strategic planning." in request.text
    old.later(days=7, hours=1)
    new.later(days=7, hours=1)
    assert "Open gates: gap_analysis_approved (0/1 approvals)" in old.sent("check_in")[-1].text
    assert "Open gates: Gap analysis approved (0/1 approvals)" in new.sent("check_in")[-1].text
