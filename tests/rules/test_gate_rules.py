"""Every gate rule against `Machine` alone: approvals, checklists, KPI streaks, roster, waivers."""

from __future__ import annotations

from models.commands import Approve, ChangeRoster, RecordReadings, Tick
from models.plan import Person
from tests.rules.sim import DANA, EVE, GOOD, LI, MO, RAJ, Run, plan_with


def test_an_any_one_approval_gate_passes_on_the_first_eligible_approval():
    run = Run()
    assert run.gate("gap_analysis_approved").waiting_for == [LI]
    run.approve("gap_analysis_approved", LI)
    assert run.gate("gap_analysis_approved").status == "passed"


def test_an_all_approval_gate_waits_for_every_holder_of_its_roles():
    run = Run()
    run.approve("slas_signed", DANA)
    gate = run.gate("slas_signed")
    assert (gate.status, gate.progress, gate.waiting_for) == ("open", "1/2 approvals", [RAJ])
    run.approve("slas_signed", RAJ)
    assert run.gate("slas_signed").status == "passed"


def test_a_quorum_gate_passes_on_its_count_and_a_repeat_approval_counts_once():
    run = Run(
        plan_with(
            "approvers: {roles: [program_manager]}\n      - key: slas_signed",
            "approvers: {roles: [program_manager, transition_lead, executive_sponsor], quorum: 2}\n"
            "      - key: slas_signed",
        )
    )
    run.approve("gap_analysis_approved", LI, LI)
    assert run.gate("gap_analysis_approved").progress == "1/2 approvals"
    assert [e.detail["repeat"] for e in run.audit if e.kind == "approved"] == [False, True]
    run.approve("gap_analysis_approved", RAJ)
    assert run.gate("gap_analysis_approved").status == "passed"


def test_a_checklist_passes_when_its_last_item_is_ticked():
    run = Run()
    run.tick("governance_defined", LI, "raci", "escalation_matrix", "communication_protocol")
    gate = run.gate("governance_defined")
    assert (gate.progress, gate.waiting_for) == ("3/4 items", ["knowledge_base"])
    run.tick("governance_defined", LI, "knowledge_base")
    assert run.gate("governance_defined").status == "passed"


def test_planning_passes_into_mobilization_when_its_last_gate_passes():
    run = Run()
    status = run.pass_planning()
    assert (status.phase, status.history[0].outcome) == ("mobilization", "passed")
    assert run.sent("phase_started")[-1].subject == "[ACME Corp] Transition team and kickoff begins"


def test_a_roster_gate_passes_when_a_roster_change_brings_the_missing_role():
    run = Run(plan_with("    roles: [training_lead, team_lead]\n", "    roles: [training_lead]\n"))
    run.pass_planning()
    gate = run.gate("team_assigned")
    assert (gate.status, gate.waiting_for) == ("open", ["team_lead"])
    lead = Person(id="tl@northstar.example", name="Tia", org="provider", roles=["team_lead"])
    run.do(ChangeRoster(add=[lead], by=RAJ))
    assert run.gate("team_assigned").status == "passed"


def test_evidence_required_refuses_an_approval_without_it_in_business_words():
    run = Run()
    run.pass_planning()
    message = run.refused(Approve(gate="kickoff_held", by=LI), "EvidenceRequired")
    assert message == "gate 'kickoff_held' needs evidence with each approval: a link or a reference"
    run.approve("kickoff_held", LI, evidence="MIN-7")
    assert run.gate("kickoff_held").progress == "1/2 approvals"


def test_a_kpi_gate_passes_after_its_periods_in_a_row_and_a_miss_starts_the_count_again():
    run = Run()
    run.reach_pilot()
    run.read("P1", **GOOD)
    assert run.gate("pilot_kpis_met").progress == "1/2 periods"
    run.read("P2", **{**GOOD, "csat": 70.0})
    assert run.gate("pilot_kpis_met").progress == "0/2 periods"
    run.read("P3", **GOOD)
    run.read("P4", **GOOD)
    assert run.gate("pilot_kpis_met").status == "passed"


def test_a_kpi_period_left_incomplete_when_a_later_one_arrives_breaks_the_streak():
    run = Run()
    run.reach_pilot()
    run.read("P1", **GOOD)
    run.read("P2", csat=90.0)
    assert run.gate("pilot_kpis_met").waiting_for == ["error_rate", "first_response_hours"]
    run.read("P3", **GOOD)
    assert run.gate("pilot_kpis_met").progress == "1/2 periods"


def test_a_waived_gate_counts_as_passed_and_only_sponsors_and_program_managers_may_waive():
    run = Run()
    message = run.refused(Tick(gate="governance_defined", item="raci", by=MO), "NotAllowed")
    assert "needs one of the roles program_manager" in message
    run.waive("governance_defined", DANA)
    assert run.gate("governance_defined").status == "waived"
    run.approve("gap_analysis_approved", LI)
    assert run.approve("slas_signed", DANA, RAJ).phase == "mobilization"


def test_approving_a_checklist_is_refused_with_how_it_passes_instead():
    run = Run()
    message = run.refused(Approve(gate="governance_defined", by=LI), "WrongGateKind")
    assert message.endswith("it passes when each of its items is ticked")
    assert "bpo" not in message


def test_refusals_name_what_would_be_right():
    run = Run()
    assert "gap_analysis_approved, slas_signed, governance_defined" in run.refused(
        Approve(gate="no_such_gate", by=LI), "UnknownGate"
    )
    assert "belongs to phase 'pilot', which has not begun" in run.refused(
        Approve(gate="pilot_go", by=DANA), "GateNotOpen"
    )
    assert "its items: raci, escalation_matrix" in run.refused(
        Tick(gate="governance_defined", item="lunch", by=LI), "UnknownItem"
    )
    assert "'mallory@evil.example' is not on the roster" in run.refused(
        Approve(gate="slas_signed", by="mallory@evil.example"), "NotAllowed"
    )
    assert "needs one of the roles executive_sponsor, transition_lead" in run.refused(
        Approve(gate="slas_signed", by=EVE), "NotAllowed"
    )


def test_a_reading_that_misses_its_sla_in_the_pilot_alerts_the_breach_roles_once_per_kpi_and_period():
    run = Run()
    run.reach_pilot()
    run.read("P1", **{**GOOD, "csat": 70.0})
    run.do(RecordReadings(period="P1", values={"csat": 71.0}, by=LI, correct=True, reason="typo"))
    run.read("P2", **{**GOOD, "csat": 72.0, "error_rate": 3.5})
    alerts = run.sent("sla_breach")
    assert [(n.detail["kpi"], n.detail["label"]) for n in alerts] == [
        ("csat", "P1"),
        ("csat", "P2"),
        ("error_rate", "P2"),
    ]
    assert {r.id for r in alerts[0].recipients} == {LI, RAJ}, (
        "the plan's breach roles: program manager, transition lead"
    )
    assert "during Pilot" in alerts[0].text and "70" in alerts[0].subject
    assert run.gate("pilot_kpis_met").progress == "0/2 periods", "the streak resets as before"


def test_transitions_that_ran_before_phase_breach_alerts_send_none():
    run = Run(patched=lambda change: change != "phase-breach-alerts-2026-11")
    run.reach_pilot()
    run.read("P1", **{**GOOD, "csat": 70.0})
    assert run.sent("sla_breach") == []
