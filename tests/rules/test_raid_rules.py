"""The RAID log in the rules: items that hold gates, overdue actions, critical issues."""

from __future__ import annotations

from datetime import date

from models.commands import RaidAdd, RaidClose
from tests.rules.sim import DANA, EVE, LI, RAJ, Run


def test_an_open_action_holds_its_gate_after_every_sign_off_and_closing_it_lets_it_pass():
    run = Run()
    run.do(RaidAdd(kind="action", title="Sign the DPA", owner=RAJ, blocks="slas_signed", by=LI))
    status = run.approve("slas_signed", DANA, RAJ)
    gate = run.gate("slas_signed")
    assert gate.status == "open" and gate.blocked_by == ["A-1"] and "blocked by A-1" in gate.progress
    assert [i.id for i in status.raid] == ["A-1"]
    assert run.sent("raid_assigned")[0].recipients[0].id == RAJ
    run.refused(RaidClose(item="A-1", note="done", by=EVE), "NotAllowed")
    run.do(RaidClose(item="A-1", note="DPA countersigned", by=RAJ))
    assert run.gate("slas_signed").status == "passed"
    run.refused(RaidClose(item="A-1", note="again", by=RAJ), "AlreadyClosed")


def test_a_critical_issue_escalates_at_once_to_the_top_of_the_ladder():
    run = Run()
    status = run.do(RaidAdd(kind="issue", title="Data centre fire", owner=LI, severity="critical", by=RAJ))
    assert status.health == "escalated"
    (alert,) = run.sent("raid_escalated")
    assert {r.id for r in alert.recipients} == {DANA}, "the reference ladder's top level: executive sponsors"
    assert status.raid[0].id == "I-1"


def test_an_overdue_action_reminds_its_owner_then_escalates_as_late_again():
    run = Run()  # Monday 2027-01-04 09:00 UTC
    run.do(RaidAdd(kind="action", title="Share call recordings", owner=RAJ, due=date(2027, 1, 6), by=LI))
    run.later(days=2, hours=14)  # Wednesday 23:00: still on time
    assert not run.sent("raid_overdue")
    run.later(hours=2)  # Thursday 01:00
    assert [n.recipients[0].id for n in run.sent("raid_overdue")] == [RAJ]
    run.later(days=2)
    assert not run.sent("raid_escalated")
    status = run.later(days=1)  # given 2d 15h, late by as much by Saturday 15:00
    assert run.sent("raid_escalated") and status.health == "at_risk"
    run.later(days=10)
    assert len(run.sent("raid_overdue")) == 1 and len(run.sent("raid_escalated")) == 1


def test_bad_raid_items_are_refused_and_change_nothing():
    run = Run()
    run.refused(RaidAdd(kind="risk", title="x", owner="nobody@x.example", by=LI), "UnknownPerson")
    run.refused(RaidAdd(kind="risk", title="x", owner=LI, blocks="no_such_gate", by=LI), "UnknownGate")
    run.refused(RaidAdd(kind="action", title="x", owner=LI, due=date(2027, 1, 3), by=LI), "BadInput")
    run.refused(RaidClose(item="R-9", note="x", by=LI), "UnknownItem")
    run.pass_planning()
    run.refused(RaidAdd(kind="risk", title="x", owner=LI, blocks="slas_signed", by=LI), "UnknownGate")
