"""Each gate kind and approval rule, and every refusal, on the time-skipping server."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from models.commands import Approve, ChangeRoster, RecordReadings, Tick
from models.plan import Person
from models.plan_loader import parse_plan
from tests.conftest import REFERENCE_PLAN
from tests.driver import DANA, EVE, GOOD, LI, MO, RAJ


async def test_rule_any_passes_on_one_approval_from_the_role(t):
    status = await t.approve("gap_analysis_approved", LI)
    assert t.gate(status, "gap_analysis_approved").status == "passed"
    assert status.phase == "planning"


async def test_rule_all_waits_for_every_holder_of_the_roles(t):
    status = await t.approve("slas_signed", DANA)
    gate = t.gate(status, "slas_signed")
    assert (gate.status, gate.progress, gate.waiting_for) == ("open", "1/2 approvals", [RAJ])
    status = await t.approve("slas_signed", RAJ)
    assert t.gate(status, "slas_signed").status == "passed"


async def test_the_same_approval_twice_counts_once(t):
    await t.approve("slas_signed", DANA)
    status = await t.approve("slas_signed", DANA)
    gate = t.gate(status, "slas_signed")
    assert (gate.status, gate.progress) == ("open", "1/2 approvals")


async def test_checklist_passes_when_every_item_is_ticked_and_phase_advances(t):
    await t.approve("gap_analysis_approved", LI)
    await t.approve("slas_signed", DANA, RAJ)
    status = await t.tick("governance_defined", LI, "raci", "escalation_matrix", "communication_protocol")
    assert t.gate(status, "governance_defined").progress == "3/4 items"
    assert t.gate(status, "governance_defined").waiting_for == ["knowledge_base"]
    status = await t.tick("governance_defined", LI, "knowledge_base")
    assert status.phase == "mobilization"


async def test_checklist_items_scope_means_one_item_per_scope_process(t):
    status = await t.reach("knowledge_transfer")
    assert t.gate(status, "process_maps").waiting_for == ["email_support", "chat_support"]
    await t.refused(Tick(gate="process_maps", item="voice_support", by=EVE), "UnknownItem")


async def test_roster_gate_passes_at_phase_start_when_roster_holds_every_role(t):
    status = await t.reach("mobilization")
    assert t.gate(status, "team_assigned").status == "passed"


async def test_roster_gate_waits_for_a_missing_role_and_passes_when_roster_changes(t):
    await t.do(ChangeRoster(by=RAJ, remove=[MO]))
    status = await t.pass_phase("planning")
    gate = t.gate(status, "team_assigned")
    assert (gate.status, gate.waiting_for) == ("open", ["training_lead", "team_lead"])
    mo = Person(id=MO, name="Mo Santos", org="provider", roles=["training_lead", "team_lead"])
    status = await t.do(ChangeRoster(by=RAJ, add=[mo]))
    assert t.gate(status, "team_assigned").status == "passed"


async def test_kpi_gate_needs_consecutive_periods_and_a_miss_starts_the_count_again(t):
    await t.reach("pilot")
    pilot = {k: v for k, v in GOOD.items() if k != "fcr"}
    status = await t.read("W1", **pilot)
    assert t.gate(status, "pilot_kpis_met").progress == "1/2 periods"
    status = await t.read("W2", **{**pilot, "error_rate": 2.5})
    assert t.gate(status, "pilot_kpis_met").progress == "0/2 periods"
    status = await t.read("W3", **pilot)
    assert t.gate(status, "pilot_kpis_met").progress == "1/2 periods"
    status = await t.read("W4", csat=88)
    gate = t.gate(status, "pilot_kpis_met")
    assert (gate.progress, gate.waiting_for) == ("1/2 periods", ["error_rate", "first_response_hours"])
    status = await t.read("W4", error_rate=1.0, first_response_hours=2)
    assert t.gate(status, "pilot_kpis_met").status == "passed"


async def test_a_recorded_reading_stands_and_only_a_correction_with_a_reason_replaces_it(t):
    await t.reach("pilot")
    await t.read("W1", csat=80, error_rate=1.0, first_response_hours=2)  # csat below its SLA of 85
    status = await t.read("W2", csat=90, error_rate=1.0, first_response_hours=2)
    assert t.gate(status, "pilot_kpis_met").progress == "1/2 periods"
    again = RecordReadings(period="W1", values={"csat": 86}, by=LI)
    assert "csat for W1 is already recorded (80)" in await t.refused(again, "AlreadyRecorded")
    correction = again.model_copy(update={"correct": True, "reason": "the export double-counted W1"})
    status = await t.do(correction)
    assert t.gate(status, "pilot_kpis_met").status == "passed"


async def test_a_reading_outside_a_kpi_gate_stands_across_phases_and_continue_as_new(t):
    status = await t.read("W1", csat=90)
    assert status.phase == "planning"  # no KPI gate is open
    again = RecordReadings(period="W1", values={"csat": 80}, by=LI)
    assert "csat for W1 is already recorded (90)" in await t.refused(again, "AlreadyRecorded")
    await t.reach("steady_state")
    for _ in range(12):  # steady-state quarters, until the run's history reaches its budget
        await t.sleep(days=91)
        if (status := await t.status()).runs > 1:
            break
    assert status.runs > 1
    assert "csat for W1 is already recorded (90)" in await t.refused(again, "AlreadyRecorded")
    await t.do(again.model_copy(update={"correct": True, "reason": "the survey was re-scored"}))
    assert "csat for W1 is already recorded (80)" in await t.refused(again, "AlreadyRecorded")


async def test_lower_is_better_kpis_meet_their_sla_at_or_below_it(t):
    await t.reach("pilot")
    await t.read("W1", csat=85, error_rate=2.0, first_response_hours=4)
    status = await t.read("W2", csat=85, error_rate=2.0, first_response_hours=4)
    assert t.gate(status, "pilot_kpis_met").status == "passed"


async def test_quorum_passes_on_that_many_distinct_people(launch):
    text = REFERENCE_PLAN.read_text().replace(
        "approvers: {roles: [program_manager]}\n      - key: slas_signed",
        "approvers: {roles: [program_manager, transition_lead, executive_sponsor], quorum: 2}\n      - key: slas_signed",
    )
    t = await launch(parse_plan(text, env={}).plan)
    status = await t.approve("gap_analysis_approved", LI, LI)
    assert t.gate(status, "gap_analysis_approved").progress == "1/2 approvals"
    status = await t.approve("gap_analysis_approved", RAJ)
    assert t.gate(status, "gap_analysis_approved").status == "passed"


async def test_evidence_required_refuses_an_approval_without_it(t):
    await t.reach("mobilization")
    message = await t.refused(Approve(gate="kickoff_held", by=LI), "EvidenceRequired")
    assert "needs evidence with each approval" in message
    status = await t.approve("kickoff_held", LI, evidence="MINUTES-2027-01-05")
    assert t.gate(status, "kickoff_held").progress == "1/2 approvals"


async def test_refusals_name_what_is_wrong_and_change_nothing(t):
    before = await t.settled()
    message = await t.refused(Approve(gate="no_such_gate", by=LI), "UnknownGate")
    assert "gap_analysis_approved, slas_signed, governance_defined" in message
    message = await t.refused(Approve(gate="gap_analysis_approved", by="mallory@evil.example"), "NotAllowed")
    assert "'mallory@evil.example' is not on the roster" in message
    message = await t.refused(Approve(gate="slas_signed", by=EVE), "NotAllowed")
    assert "needs one of the roles executive_sponsor, transition_lead" in message and "slas_signed" in message
    message = await t.refused(Approve(gate="pilot_go", by=DANA), "GateNotOpen")
    assert "phase 'pilot', which has not begun" in message
    message = await t.refused(RecordReadings(period="W1", values={"csat_score": 90}), "UnknownMetric")
    assert "csat, error_rate" in message
    await t.refused(Approve(gate="governance_defined", by=LI), "WrongGateKind")
    assert await t.status() == before


async def test_a_decision_on_a_passed_phase_is_refused(t):
    await t.reach("mobilization")
    message = await t.refused(Approve(gate="slas_signed", by=DANA), "GateNotOpen")
    assert "has already passed" in message


def test_a_reading_that_is_not_a_finite_number_is_refused_before_sending():
    for value in ("abc", float("nan"), float("inf")):
        with pytest.raises(ValidationError):
            RecordReadings(period="W1", values={"csat": value})


def test_a_ten_megabyte_note_is_refused_before_it_reaches_temporal():
    with pytest.raises(ValidationError, match="at most 2000 characters"):
        Approve(gate="slas_signed", by=DANA, note="x" * 10_000_000)
