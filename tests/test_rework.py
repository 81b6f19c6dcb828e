"""Rejection and rework, its limit, waves, waive and cancel, on the time-skipping server."""

from __future__ import annotations

from models.commands import Cancel, Reject, Resume, Waive
from tests.driver import DANA, EVE, GOOD, LI, MO, RAJ
from workflows.transition import TransitionWorkflow


async def test_reject_sends_the_transition_back_and_later_phases_start_over(t):
    await t.reach("pilot")
    await t.read("W1", **{k: v for k, v in GOOD.items() if k != "fcr"})
    status = await t.reject("pilot_go", DANA, "agents not ready for chat")
    assert (status.phase, status.reworks, status.state) == ("knowledge_transfer", 1, "running")
    assert all(g.status == "open" for g in status.gates)
    assert status.history[-2].outcome == "reworked"
    status = await t.reach("pilot")
    assert t.gate(status, "pilot_kpis_met").progress == "0/2 periods"  # the readings of the first attempt are gone
    assert status.history[-1].attempt == 2


async def test_past_max_reworks_a_rejection_halts_escalates_and_resume_reopens_the_gate(t):
    for rework in (1, 2):
        await t.reach("pilot")
        status = await t.reject("pilot_go", DANA)
        assert status.reworks == rework
    await t.reach("pilot")
    status = await t.reject("pilot_go", DANA, "third time is not the charm")
    assert (status.phase, status.state, status.health) == ("pilot", "paused", "escalated")
    assert t.gate(status, "pilot_go").status == "rejected"
    assert "third time is not the charm" in status.pause_reason
    status = await t.do(Resume(by=DANA))
    assert (status.state, t.gate(status, "pilot_go").status) == ("running", "open")
    await t.pass_phase("pilot")
    await t.sleep(days=29)
    status = await t.status()
    assert (status.phase, status.health) == ("ramp", "on_track")


async def test_reject_without_on_reject_halts_the_transition(t):
    status = await t.reject("slas_signed", RAJ, "penalty clauses unacceptable")
    assert (status.state, status.health, status.phase) == ("paused", "escalated", "planning")


async def test_reject_needs_a_person_who_may_approve_the_gate(t):
    await t.refused(Reject(gate="slas_signed", by=EVE, reason="no"), "NotAllowed")


async def test_waves_run_the_gates_once_per_wave_and_the_last_wave_passes_the_phase(t):
    status = await t.reach("ramp")
    assert (status.wave, status.waves, status.wave_size) == (1, 3, 25)
    status = await t.pass_phase("ramp_wave", 1)
    assert (status.phase, status.wave, status.wave_size) == ("ramp", 2, 50)
    assert all(g.status == "open" for g in status.gates)
    status = await t.pass_phase("ramp_wave", 2)
    assert (status.wave, status.wave_size) == (3, 100)
    status = await t.pass_phase("ramp_wave", 3)
    assert (status.phase, status.wave) == ("hypercare", None)


async def test_waive_passes_a_gate_and_only_a_sponsor_or_program_manager_may_waive(t):
    await t.refused(Waive(gate="slas_signed", by=MO, reason="x"), "NotAllowed")
    status = await t.waive("slas_signed", DANA, "signed on paper, scanned copy on file")
    assert t.gate(status, "slas_signed").status == "waived"


async def test_full_run_reaches_steady_state(t):
    status = await t.reach("steady_state")
    assert (status.phase, status.state, status.gates) == ("steady_state", "running", [])
    assert [r.phase for r in status.history] == [
        "planning",
        "mobilization",
        "knowledge_transfer",
        "pilot",
        "ramp",
        "hypercare",
        "steady_state",
    ]


async def test_cancel_ends_the_transition_and_refuses_further_decisions(env, t):
    await t.refused(Cancel(by=EVE, reason="x"), "NotAllowed")
    status = await t.do(Cancel(by=DANA, reason="contract terminated"))
    assert (status.state, status.end_reason) == ("cancelled", "contract terminated")
    result = await env.client.get_workflow_handle_for(TransitionWorkflow.run, t.id).result()
    assert result.state == "cancelled"
    await t.refused(Resume(by=LI), "Ended")
