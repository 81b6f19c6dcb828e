"""Authority over the roster, two-sided sign-off, fixed approvers and KPI provenance, by the rules."""

from __future__ import annotations

from models.commands import ChangeRoster, RecordReadings
from models.plan import Person
from tests.rules.sim import DANA, EVE, GOOD, LI, MO, RAJ, Run, plan_with

SPONSOR_2 = Person(id="sam@acme.example", name="Sam", org="client", roles=["executive_sponsor"])


def test_no_one_changes_their_own_roles():
    run = Run()
    raj_as_sponsor = Person(id=RAJ, name="Raj", org="provider", roles=["transition_lead", "executive_sponsor"])
    message = run.refused(ChangeRoster(add=[raj_as_sponsor], by=RAJ), "NotAllowed")
    assert message == f"{RAJ} may not change their own roles; another person allowed to must"
    run.refused(ChangeRoster(remove=[LI], by=LI), "NotAllowed")


def test_sponsor_level_roles_need_an_executive_sponsor_of_the_same_org():
    run = Run()
    message = run.refused(ChangeRoster(remove=[DANA], by=RAJ), "NotAllowed")
    assert "needs an executive_sponsor of client" in message
    mo_as_lead = Person(id=MO, name="Mo", org="provider", roles=["training_lead", "transition_lead"])
    assert "needs an executive_sponsor of provider" in run.refused(
        ChangeRoster(add=[mo_as_lead], by=DANA), "NotAllowed"
    )
    run.do(ChangeRoster(add=[SPONSOR_2], by=DANA))
    assert SPONSOR_2.id in [p.id for p in run.machine.state.people]


def test_other_roles_need_a_program_manager_or_transition_lead_of_that_org():
    run = Run()
    provider_sme = Person(id="ana@northstar.example", name="Ana", org="provider", roles=["sme"])
    assert "needs a program_manager or transition_lead of provider" in run.refused(
        ChangeRoster(add=[provider_sme], by=LI), "NotAllowed"
    )
    run.do(ChangeRoster(add=[provider_sme], by=RAJ))
    run.refused(ChangeRoster(remove=[EVE], by=MO), "NotAllowed")


def test_before_the_change_any_lead_could_change_any_roster_entry():
    run = Run(patched=lambda change: False)  # a transition recorded before the rule existed
    raj_as_sponsor = Person(id=RAJ, name="Raj", org="provider", roles=["transition_lead", "executive_sponsor"])
    run.do(ChangeRoster(add=[raj_as_sponsor], by=RAJ))
    assert "executive_sponsor" in next(p for p in run.machine.state.people if p.id == RAJ).roles


def test_the_approvers_of_a_rule_all_gate_are_fixed_when_it_opens():
    run = Run()
    run.do(ChangeRoster(add=[SPONSOR_2], by=DANA))  # joins after slas_signed opened
    run.approve("slas_signed", DANA)
    assert run.gate("slas_signed").waiting_for == [RAJ]
    assert run.approve("slas_signed", RAJ).gates[1].status == "passed"


def test_before_the_change_the_approvers_of_a_rule_all_gate_followed_the_roster():
    run = Run(patched=lambda change: False)
    run.do(ChangeRoster(add=[SPONSOR_2], by=DANA))
    run.approve("slas_signed", DANA, RAJ)
    assert run.gate("slas_signed").waiting_for == [SPONSOR_2.id]


def test_a_two_sided_gate_needs_an_approval_from_each_org_besides_its_rule():
    run = Run(
        plan_with(
            "approvers: {roles: [program_manager]}\n",
            "approvers: {roles: [program_manager, transition_lead]}\n        orgs: [client, provider]\n",
        )
    )
    run.approve("gap_analysis_approved", LI)
    gate = run.gate("gap_analysis_approved")
    assert (gate.status, gate.waiting_for) == ("open", [RAJ])
    assert run.approve("gap_analysis_approved", RAJ).gates[0].status == "passed"


def test_a_reading_needs_a_reporter_on_the_roster():
    run = Run()
    assert "needs the person reporting it" in run.refused(RecordReadings(period="W1", values=GOOD), "NotAllowed")
    message = run.refused(RecordReadings(period="W1", values=GOOD, by=MO), "NotAllowed")
    assert "may not record KPI readings: it needs one of the roles point_of_contact" in message


def test_a_recorded_reading_stands_and_a_correction_keeps_both_values_and_recounts_the_streak():
    run = Run()
    run.reach_pilot()
    run.read("P1", **GOOD)
    run.read("P2", **{**GOOD, "csat": 70.0})
    assert run.gate("pilot_kpis_met").progress == "0/2 periods"
    again = RecordReadings(period="P2", values={"csat": 90.0}, by=LI)
    assert "csat for P2 is already recorded (70)" in run.refused(again, "AlreadyRecorded")
    run.refused(again.model_copy(update={"correct": True}), "ReasonRequired")
    status = run.do(again.model_copy(update={"correct": True, "reason": "typo in the export"}))
    assert status.gates[0].status == "passed"
    corrected = [e for e in run.audit if e.kind == "kpi_corrected"]
    assert [(e.detail["values"], e.detail["was"], e.detail["reason"]) for e in corrected] == [
        ({"csat": 90.0}, {"csat": 70.0}, "typo in the export")
    ]
    nothing = RecordReadings(period="P9", values={"csat": 90.0}, by=LI, correct=True, reason="x")
    assert "nothing recorded for csat in P9 to correct" in run.refused(nothing, "NothingToCorrect")
