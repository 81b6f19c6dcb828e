"""Who a transition waits on, what each person may do, and the requests that ask them."""

from __future__ import annotations

from models.commands import Pause, Resume
from models.constants import login_key
from tests.rules.sim import DANA, EVE, LI, MO, RAJ, Run, plan_with
from workflows.rules import awaiting, versions


def test_a_gate_opening_asks_each_person_it_waits_on_once_with_the_path_to_its_page():
    run = Run()
    asked = {(n.recipients[0].id, n.detail["gate"]) for n in run.sent("approval_requested")}
    assert asked == {
        (LI, "gap_analysis_approved"),
        (DANA, "slas_signed"),
        (RAJ, "slas_signed"),
        (LI, "governance_defined"),
    }
    request = next(n for n in run.sent("approval_requested") if n.recipients[0].id == DANA)
    assert request.detail["path"] == "/t/t-1/gates/slas_signed"
    assert "Dana Whitfield" in request.text and "Slas signed (Strategic planning)" in request.subject
    run.approve("slas_signed", DANA)
    run.later(hours=1)
    assert len(run.sent("approval_requested")) == 4, "nobody is asked twice while the gate stays open"


def test_the_inbox_lists_only_people_still_awaited_and_not_after_they_signed():
    run = Run()
    assert awaiting.awaited(run.machine)[DANA] == ["slas_signed"]
    run.approve("slas_signed", DANA)
    assert DANA not in awaiting.awaited(run.machine)
    assert awaiting.awaited(run.machine)[RAJ] == ["slas_signed"]
    values = awaiting.search_values(run.machine)
    raj, dana = login_key(RAJ), login_key(DANA)
    assert raj in values and f"{raj}#slas_signed" in values and dana not in values
    assert not any("@" in v for v in values), "addresses stay out of the search attributes"


def test_a_pause_asks_nobody_and_the_resume_does_not_ask_again():
    run = Run()
    run.do(Pause(by=LI, reason="budget review"))
    run.do(Resume(by=LI))
    assert len(run.sent("approval_requested")) == 4


def test_the_next_phase_asks_its_own_people():
    run = Run()
    run.approve("gap_analysis_approved", LI)
    run.approve("slas_signed", DANA, RAJ)
    run.tick("governance_defined", LI, *run.machine.plan.checklist_items(run.machine.phase.gate("governance_defined")))
    run.later(days=30)
    assert run.status().phase == "mobilization"
    asked = {(n.recipients[0].id, n.detail["gate"]) for n in run.sent("approval_requested")}
    assert {(LI, "kickoff_held"), (RAJ, "kickoff_held")} <= asked


def test_options_name_only_the_decisions_a_person_may_take():
    run = Run()
    assert run.machine.options(DANA)["slas_signed"] == ["approve", "reject", "waive"]
    assert run.machine.options(EVE) == {"gap_analysis_approved": [], "slas_signed": [], "governance_defined": []}
    assert run.machine.options(LI)["governance_defined"] == ["tick", "reject", "waive"]
    assert run.machine.options(MO)["slas_signed"] == []
    run.do(Pause(by=LI, reason="budget review"))
    assert run.machine.options(DANA)["slas_signed"] == []


def test_old_transitions_ask_nobody():
    run = Run(patched=lambda change: change != awaiting.APPROVAL_REQUESTS)
    assert run.sent("approval_requested") == []


def test_people_still_awaited_are_reminded_on_the_cadence_and_not_while_paused():
    run = Run(
        plan_with(
            "name: ACME Tier-1 support to NorthStar BPO\n",
            "name: ACME Tier-1 support to NorthStar BPO\nreminders: {every: 2d}\n",
        )
    )
    run.later(days=1)
    assert run.sent("reminder") == []
    run.later(days=1, hours=1)
    first = {(n.recipients[0].id, n.detail["gate"]) for n in run.sent("reminder")}
    assert first == {
        (LI, "gap_analysis_approved"),
        (DANA, "slas_signed"),
        (RAJ, "slas_signed"),
        (LI, "governance_defined"),
    }
    run.approve("slas_signed", DANA)
    run.do(Pause(by=LI, reason="budget review"))
    run.later(days=10)
    assert len(run.sent("reminder")) == 4, "no reminders while paused"
    run.do(Resume(by=LI))
    run.later(days=2)
    second = [(n.recipients[0].id, n.detail["gate"]) for n in run.sent("reminder")[4:]]
    assert (DANA, "slas_signed") not in second and (RAJ, "slas_signed") in second, "only those still awaited"
    assert all(n.detail["path"].startswith("/t/t-1/gates/") for n in run.sent("reminder"))


def test_a_gate_may_set_its_own_reminders():
    plan = plan_with(
        "      - key: slas_signed\n        kind: approval\n",
        "      - key: slas_signed\n        kind: approval\n        reminders: {every: 12h}\n",
    )
    run = Run(plan)
    run.later(hours=13)
    assert {n.detail["gate"] for n in run.sent("reminder")} == {"slas_signed"}


def test_a_request_carries_its_gates_name_needs_signers_and_due_date_and_not_before_the_change():
    run = Run()
    run.approve("slas_signed", DANA)
    run.later(hours=1)
    request = next(n for n in run.sent("approval_requested") if n.recipients[0].id == RAJ)
    assert request.detail["gate_name"] == "Slas signed" and request.detail["needs"].startswith("0/")
    assert request.detail["signed"] == [], "asked when the gate opened, before Dana signed"
    assert request.detail["due"] == run.status().phase_due_at.isoformat(), "the phase's due, the gate having none"
    old = Run(patched=lambda change: change != versions.NOTICE_FACTS)
    assert not {"gate_name", "needs", "due"} & set(old.sent("approval_requested")[0].detail)
