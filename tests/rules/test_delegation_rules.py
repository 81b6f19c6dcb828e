"""Delegation: someone decides in another's stead until a date, never by a chain."""

from __future__ import annotations

from datetime import date

from models.commands import Approve, Delegate, Waive
from tests.rules.sim import DANA, EVE, LI, MO, RAJ, Run
from workflows.rules import awaiting


def test_a_sponsor_on_leave_delegates_and_the_delegate_approves_for_her_audited_as_for():
    run = Run()
    run.refused(Approve(gate="slas_signed", by=LI), "NotAllowed")
    run.do(Delegate(person=DANA, to=LI, until=date(2027, 1, 10), by=DANA))
    assert "slas_signed" in awaiting.awaited(run.machine, run.now)[LI], "the delegate sees her gates"
    assert run.machine.options(LI, run.now)["slas_signed"] == ["approve", "reject", "waive"]
    asked = [
        n for n in run.sent("approval_requested") if n.recipients[0].id == LI and n.detail["gate"] == "slas_signed"
    ]
    assert asked, "requests for her go to the delegate too"
    run.do(Approve(gate="slas_signed", by=LI))
    row = next(a for a in run.audit if a.kind == "approved" and a.gate == "slas_signed")
    assert row.actor == LI and row.detail["for"] == DANA
    assert DANA not in run.gate("slas_signed").waiting_for and RAJ in run.gate("slas_signed").waiting_for
    assert {n.recipients[0].id for n in run.sent("delegated")} <= {DANA, LI} and run.sent("delegated")


def test_a_delegation_ends_on_its_date_or_on_request_and_never_chains():
    run = Run()
    run.do(Delegate(person=DANA, to=LI, until=date(2027, 1, 5), by=DANA))
    run.do(Delegate(person=LI, to=EVE, until=date(2027, 2, 1), by=LI))
    run.refused(Approve(gate="slas_signed", by=EVE), "NotAllowed")  # Eve stands in for Li, not for Dana
    run.later(days=2)  # past the end of 5 January
    run.refused(Approve(gate="slas_signed", by=LI), "NotAllowed")
    run.do(Delegate(person=DANA, to=MO, until=date(2027, 3, 1), by=DANA))
    run.do(Delegate(person=DANA, end=True, by=DANA))
    run.refused(Waive(gate="slas_signed", by=MO, reason="x"), "NotAllowed")


def test_only_the_person_or_a_sponsor_of_their_side_delegates_to_someone_on_the_roster():
    run = Run()
    run.refused(Delegate(person=DANA, to=LI, until=date(2027, 2, 1), by=EVE), "NotAllowed")
    run.refused(Delegate(person=DANA, to="nobody@x.example", until=date(2027, 2, 1), by=DANA), "NotAllowed")
    run.refused(Delegate(person=DANA, end=True, by=DANA), "NoDelegation")
    run.do(Delegate(person=EVE, to=LI, until=date(2027, 2, 1), by=DANA))  # Dana sponsors the client side


def test_a_delegation_ending_in_the_past_is_refused_and_older_transitions_replay_as_they_ran():
    run = Run()  # the clock reads 2027-01-04
    message = run.refused(Delegate(person=DANA, to=LI, until=date(2027, 1, 3), by=DANA), "BadInput")
    assert "--until 2027-01-03 has passed" in message
    run.do(Delegate(person=DANA, to=LI, until=date(2027, 1, 4), by=DANA))  # today still counts
    before = Run(patched=lambda change: change != "delegation-dates-2026-11")
    before.do(Delegate(person=DANA, to=LI, until=date(2027, 1, 3), by=DANA))
