"""Due dates, the escalation ladder, min_duration and pause, on the time-skipping server."""

from __future__ import annotations

from models.commands import Approve, Pause, Resume
from tests.driver import DANA, LI, MO, Driver


async def levels(t: Driver) -> list[int]:
    return [e.level for e in (await t.status()).escalations]


async def test_escalation_levels_fire_at_their_moments_past_due_and_once_each(t):
    # planning is due after 14d; the plan's ladder fires 2d, 5d and 10d past due.
    await t.sleep(days=15, hours=23)
    assert await levels(t) == []
    await t.sleep(hours=2)
    status = await t.status()
    assert [e.level for e in status.escalations] == [1]
    assert status.escalations[0].notified == [LI, "raj@northstar.example"]
    assert status.health == "on_track"
    await t.sleep(days=3)
    status = await t.status()
    assert ([e.level for e in status.escalations], status.health) == ([1, 2], "at_risk")
    await t.sleep(days=5)
    status = await t.status()
    assert ([e.level for e in status.escalations], status.health) == ([1, 2, 3], "escalated")
    assert status.escalations[2].notified == [DANA]
    await t.sleep(days=30)
    assert await levels(t) == [1, 2, 3]


async def test_health_falls_back_to_on_track_when_the_phase_that_raised_it_passes(t):
    await t.sleep(days=25)
    assert (await t.status()).health == "escalated"
    status = await t.pass_phase("planning")
    assert (status.phase, status.health, status.escalations) == ("mobilization", "on_track", [])


async def test_no_escalation_once_every_gate_has_passed(t):
    await t.reach("pilot")
    await t.pass_phase("pilot")  # gates pass at once; min_duration of 28d holds the phase
    await t.sleep(days=27)
    status = await t.status()
    assert (status.phase, status.escalations) == ("pilot", [])


async def test_min_duration_holds_a_phase_whose_gates_have_passed(t):
    status = await t.reach("pilot")
    status = await t.pass_phase("pilot")
    assert status.phase == "pilot" and all(g.status == "passed" for g in status.gates)
    await t.sleep(days=27, hours=23)
    assert (await t.status()).phase == "pilot"
    await t.sleep(hours=2)
    assert (await t.status()).phase == "ramp"


async def test_pause_stops_every_clock_and_paused_time_does_not_count(t):
    await t.sleep(days=10)
    status = await t.do(Pause(by=LI, reason="client reorganisation"))
    assert status.state == "paused"
    await t.sleep(days=30)
    status = await t.status()
    assert (status.state, status.escalations, status.pause_reason) == ("paused", [], "client reorganisation")
    status = await t.do(Resume(by=LI))
    assert status.state == "running" and status.paused_seconds >= 30 * 86400
    # 10 days ran before the pause; level 1 falls at 16 unpaused days.
    await t.sleep(days=5, hours=23)
    assert await levels(t) == []
    await t.sleep(hours=2)
    assert await levels(t) == [1]


async def test_pause_holds_min_duration_too(t):
    await t.reach("pilot")
    await t.pass_phase("pilot")
    await t.sleep(days=20)
    await t.do(Pause(by=DANA, reason="peak season freeze"))
    await t.sleep(days=20)
    await t.do(Resume(by=DANA))
    await t.sleep(days=7, hours=23)
    assert (await t.status()).phase == "pilot"
    await t.sleep(hours=2)
    assert (await t.status()).phase == "ramp"


async def test_while_paused_gate_decisions_are_refused_and_only_managers_pause(t):
    await t.refused(Pause(by=MO, reason="I want a break"), "NotAllowed")
    await t.do(Pause(by=LI, reason="budget review"))
    message = await t.refused(Approve(gate="gap_analysis_approved", by=LI), "Paused")
    assert "budget review" in message
    await t.refused(Pause(by=LI, reason="again"), "AlreadyPaused")
    await t.do(Resume(by=LI))
    await t.refused(Resume(by=LI), "NotPaused")
