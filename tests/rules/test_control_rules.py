"""Rework, halts, pause, cancel, repeats and the roster, against `Machine` alone."""

from __future__ import annotations

from models.commands import Approve, Cancel, ChangeRoster, Pause, RecordReadings, Resume
from tests.rules.sim import DANA, GOOD, LI, MO, RAJ, Run


def test_a_rejected_pilot_goes_back_to_knowledge_transfer_as_a_second_attempt():
    run = Run()
    run.reach_pilot()
    status = run.reject("pilot_go", DANA)
    assert (status.phase, status.reworks) == ("knowledge_transfer", 1)
    assert [(h.phase, h.attempt, h.outcome) for h in status.history[-2:]] == [
        ("pilot", 1, "reworked"),
        ("knowledge_transfer", 2, None),
    ]
    assert run.sent("rework")[0].text.endswith("goes back to 'Training and knowledge transfer' (rework 1 of 2).")


def test_past_its_rework_limit_a_rejection_halts_the_transition_until_resumed():
    run = Run()
    run.reach_pilot()
    for attempt in (2, 3):
        run.reject("pilot_go", DANA)
        run.tick("process_maps", "eve@acme.example", "email_support", "chat_support")
        run.approve("training_signed_off", MO, "eve@acme.example")
        run.read(f"cert-{attempt}", assessment_score=90)  # a period's reading stands: each attempt its own
    status = run.reject("pilot_go", DANA)
    assert (status.phase, status.state, status.health) == ("pilot", "paused", "escalated")
    assert "the 2 reworks allowed are used up" in run.sent("gate_rejected")[0].text
    assert "resume it before deciding on gates" in run.refused(Approve(gate="pilot_go", by=DANA), "Paused")
    run.do(Resume(by=LI, reason="new pilot plan agreed"))
    assert run.gate("pilot_go").status == "open"


def test_a_plan_without_rework_halts_on_the_first_rejection():
    run = Run()
    status = run.reject("slas_signed", DANA)
    assert (status.phase, status.state, status.gates[1].status) == ("planning", "paused", "rejected")
    assert "no rework is allowed" in run.sent("gate_rejected")[0].text


def test_pausing_twice_and_resuming_a_running_transition_are_refused():
    run = Run()
    run.do(Pause(by=LI, reason="audit"))
    assert "already paused (audit)" in run.refused(Pause(by=LI, reason="again"), "AlreadyPaused")
    run.do(Resume(by=LI))
    run.refused(Resume(by=LI), "NotPaused")


def test_a_cancelled_transition_takes_no_more_decisions():
    run = Run()
    run.refused(Cancel(by=RAJ, reason="no"), "NotAllowed")
    status = run.do(Cancel(by=DANA, reason="contract withdrawn"))
    assert (status.state, status.end_reason, status.history[-1].outcome) == (
        "cancelled",
        "contract withdrawn",
        "cancelled",
    )
    run.refused(Approve(gate="gap_analysis_approved", by=LI), "Ended")
    assert run.machine.next_wakeup(run.now) is None


def test_a_repeated_request_id_changes_nothing_and_is_never_refused():
    run = Run()
    run.do(Approve(gate="gap_analysis_approved", by=LI, request_id="r-1"))
    before = len(run.audit)
    run.do(Approve(gate="gap_analysis_approved", by=LI, request_id="r-1"))
    assert len(run.audit) == before


def test_roster_changes_need_a_control_role_and_name_someone():
    run = Run()
    run.refused(ChangeRoster(remove=[LI], by=MO), "NotAllowed")
    run.refused(ChangeRoster(by=LI), "EmptyChange")
    run.refused(ChangeRoster(remove=["nobody@acme.example"], by=LI), "UnknownPerson")
    run.do(ChangeRoster(remove=[MO], by=RAJ))
    assert MO not in [p.id for p in run.machine.state.people]


def test_readings_of_an_unknown_metric_or_by_someone_off_the_roster_are_refused():
    run = Run()
    reading = RecordReadings(period="W1", values={"satisfaction": 1.0})
    assert "the plan's KPIs: csat" in run.refused(reading, "UnknownMetric")
    run.refused(RecordReadings(period="W1", values=GOOD, by="nobody@acme.example"), "NotAllowed")
