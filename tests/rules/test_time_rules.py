"""Due dates, the escalation ladder, min_duration, check-ins and pause, with a hand-moved clock."""

from __future__ import annotations

from datetime import timedelta

from models.commands import Escalate, Pause, Resume
from tests.rules.sim import DANA, LI, MO, RAJ, START, Run


def test_escalation_levels_fire_at_their_moments_past_due_and_once_each():
    run = Run()  # planning is due after 14d; the ladder fires 2d, 5d and 10d past due
    assert run.machine.next_wakeup(START) == START + timedelta(days=7)  # the first weekly check-in
    run.later(days=15, hours=23)
    assert run.status().escalations == []
    status = run.later(hours=2)
    assert [(e.level, e.at) for e in status.escalations] == [(1, START + timedelta(days=16))]
    assert status.escalations[0].notified == [LI, RAJ]
    status = run.later(days=3)
    assert ([e.level for e in status.escalations], status.health) == ([1, 2], "at_risk")
    status = run.later(days=5)
    assert ([e.level for e in status.escalations], status.health) == ([1, 2, 3], "escalated")
    assert status.escalations[2].notified == [DANA]
    run.later(days=30)
    assert len(run.sent("escalation")) == 3
    assert run.sent("escalation")[0].subject == "[ACME Corp] Strategic planning is overdue: escalation level 1"


def test_health_falls_back_to_on_track_when_the_phase_that_raised_it_passes():
    run = Run()
    assert run.later(days=25).health == "escalated"
    status = run.pass_planning()
    assert (status.phase, status.health, status.escalations) == ("mobilization", "on_track", [])


def test_no_escalation_once_every_gate_of_the_phase_has_passed():
    run = Run()
    run.reach_pilot()
    run.read("P1", csat=90.0, error_rate=1.5, first_response_hours=3.0)
    run.read("P2", csat=90.0, error_rate=1.5, first_response_hours=3.0)
    run.approve("pilot_go", DANA)
    status = run.later(days=27)
    assert (status.phase, status.earliest_pass_at) == ("pilot", run.now + timedelta(days=1))
    run.later(days=200)
    assert run.status().phase == "ramp"
    assert not [e for e in run.audit if e.kind == "escalation" and e.phase == "pilot"]


def test_min_duration_holds_a_phase_whose_gates_passed_until_it_has_run_that_long():
    run = Run()
    run.reach_pilot()
    run.read("P1", csat=90.0, error_rate=1.5, first_response_hours=3.0)
    run.read("P2", csat=90.0, error_rate=1.5, first_response_hours=3.0)
    assert run.approve("pilot_go", DANA).phase == "pilot"
    assert run.later(days=27, hours=23).phase == "pilot"
    assert run.later(hours=2).phase == "ramp"


def test_a_pause_stops_the_clocks_so_due_dates_move_by_the_time_paused():
    run = Run()
    run.later(days=10)
    run.do(Pause(by=LI, reason="client reorganisation"))
    assert run.later(days=30).escalations == []
    status = run.do(Resume(by=LI))
    assert (status.state, status.paused_seconds) == ("running", 30 * 86400)
    assert status.phase_due_at == run.now + timedelta(days=4)
    assert [e.level for e in run.later(days=6, hours=1).escalations] == [1]


def test_one_check_in_however_many_fell_due_while_paused():
    run = Run()
    run.later(days=7, hours=1)
    assert len(run.sent("check_in")) == 1
    run.do(Pause(by=LI, reason="holidays"))
    run.later(days=21)
    assert len(run.sent("check_in")) == 1
    run.do(Resume(by=LI))
    run.later(days=7)
    assert len(run.sent("check_in")) == 2
    assert "Open gates: Gap analysis approved (0/1 approvals)" in run.sent("check_in")[-1].text


def test_an_escalation_by_hand_raises_the_next_level_now_and_the_timer_does_not_fire_it_again():
    run = Run()
    status = run.do(Escalate(by=LI, reason="vendor contract stuck in legal"))
    assert [(e.level, e.at) for e in status.escalations] == [(1, START)]
    assert run.sent("escalation")[0].subject == "[ACME Corp] Strategic planning escalated to level 1 by li@acme.example"
    assert [d.kind for d in status.decisions] == ["escalated"]
    status = run.do(Escalate(by=LI, reason="no answer from legal", level=3))
    assert (status.health, [e.level for e in status.escalations]) == ("escalated", [1, 3])
    run.later(days=30)  # the ladder's timer fires level 2 only
    assert [e.level for e in run.status().escalations] == [1, 3, 2]


def test_an_escalation_by_hand_needs_a_control_role_and_a_level_the_ladder_has():
    run = Run()
    run.refused(Escalate(by=MO, reason="x"), "NotAllowed")
    assert "has 3 levels; there is no level 4" in run.refused(Escalate(by=LI, reason="x", level=4), "NoLadder")
    for _ in range(3):
        run.do(Escalate(by=LI, reason="again"))
    assert "every level of the ladder" in run.refused(Escalate(by=LI, reason="x"), "NoLadder")
