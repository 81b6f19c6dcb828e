"""The daily check of pinned evidence against `Machine` alone: when it falls due, that it stops
while paused and once ended, that a change is audited and told once, an unreachable source
audited once until it answers, and that what was told crosses continue-as-new."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from models.commands import Approve, Cancel, Pause, Resume, Waive
from models.evidence import EvidencePin, RecheckResult
from models.messages import TransitionState
from models.plan_loader import parse_plan
from workflows.rules import Machine
from workflows.rules.rechecks import next_moment
from workflows.rules.versions import EVIDENCE_RECHECKED, every_change

PLAN = Path(__file__).resolve().parent.parent / "plans" / "feeds.yaml"
START = datetime(2027, 1, 6, 9, 30, tzinfo=UTC)
PAT, QUINN = "pat@acme.example", "quinn@northwind.example"
MINUTES = "https://docs.example/readiness.pdf"
DAY = timedelta(days=1)
WEEK = timedelta(days=7)


def approved(patched=every_change) -> tuple[Machine, datetime]:
    """A transition whose go-live approval pinned its evidence; when it was approved."""
    text = PLAN.read_text().replace("{base}", "https://cc.example").replace("{hook}", "https://hooks.example/x")
    m = Machine.start(parse_plan(text, env={}).plan, "t-recheck", START, patched)
    at = START + timedelta(hours=1)
    m.apply(Waive(gate="pilot_kpis_met", by=PAT, reason="measured by hand"), at)
    pin = EvidencePin(sha256="a" * 64, size=10, at=at)
    m.apply(Approve(gate="go_live_approved", by=PAT, evidence=MINUTES), at, pin)
    m.take_outbox()
    return m, at


def check(m: Machine, now: datetime, verdict: str) -> list:
    """Run the check due at ``now`` with every item found ``verdict``; the audit entries it left."""
    m.advance(now)
    asked = m.take_recheck(now)
    assert asked is not None, f"a check is due at {now}"
    m.recheck_started(now)
    m.evidence_rechecked(asked, RecheckResult(verdicts=[verdict] * len(asked.items)), now)
    return m.take_outbox().audit


def test_pinned_evidence_is_checked_a_day_after_its_approval_then_weekly_in_steady_state():
    m, at = approved()
    assert m.phase_key == "steady_state", "the approval passed the last gate"
    assert m.next_wakeup(at) == at + DAY
    assert m.take_recheck(at + DAY - timedelta(seconds=1)) is None
    asked = m.take_recheck(at + DAY)
    assert asked is not None and [(i.evidence, i.sha256) for i in asked.items] == [(MINUTES, "a" * 64)]
    m.recheck_started(at + DAY)
    assert m.take_recheck(at + DAY) is None, "one check at a time"
    assert next_moment(m) == at + DAY + WEEK, "weekly in steady state"
    assert check(m, at + DAY + WEEK, "unchanged") == []


def test_a_change_is_audited_with_gate_and_approver_and_told_once_to_the_points_of_contact():
    m, at = approved()
    [entry] = check(m, at + DAY, "changed")
    assert (entry.kind, entry.gate) == ("evidence_changed", "go_live_approved")
    assert entry.detail["approver"] == PAT and entry.detail["evidence"] == MINUTES
    m2, _ = approved()
    m2.advance(at + DAY)
    asked = m2.take_recheck(at + DAY)
    assert asked is not None
    m2.recheck_started(at + DAY)
    m2.evidence_rechecked(asked, RecheckResult(verdicts=["changed"]), at + DAY)
    [notice] = [n for n in m2.take_outbox().notices if n.kind == "evidence_changed"]
    assert [r.id for r in notice.recipients] == [PAT], "the plan's point of contact"
    assert "Go live approved" in notice.subject and "changed since it was approved" in notice.subject
    assert check(m, at + DAY + WEEK, "changed") == [], "told once, not at every check"
    assert m.state.evidence_watch and m.state.evidence_watch.items[0].verdict == "changed"


def test_an_unreachable_source_is_audited_once_until_it_answers_again():
    m, at = approved()
    kinds = [
        [e.kind for e in check(m, at + DAY + n * WEEK, v)]
        for n, v in enumerate(["unreachable", "unreachable", "unreachable", "unchanged", "unreachable"])
    ]
    assert kinds == [["evidence_unreachable"], [], [], [], ["evidence_unreachable"]]


def test_no_check_while_paused_one_at_resume_and_none_once_cancelled():
    m, at = approved()
    m.apply(Pause(by=PAT, reason="contract review"), at + timedelta(hours=2))
    assert m.take_recheck(at + 3 * DAY) is None and m.next_wakeup(at + 3 * DAY) != at + DAY
    m.apply(Resume(by=PAT), at + 3 * DAY)
    assert m.take_recheck(at + 3 * DAY) is not None, "the check missed while paused runs at resume"
    m.recheck_started(at + 3 * DAY)
    m.apply(Cancel(by=PAT, reason="over"), at + 3 * DAY)
    assert m.take_recheck(at + 10 * DAY) is None and m.next_wakeup(at + 10 * DAY) is None


def test_what_was_told_and_when_the_next_check_is_due_cross_continue_as_new():
    m, at = approved()
    check(m, at + DAY, "changed")
    carried = TransitionState.model_validate_json(m.state.model_dump_json())
    again = Machine(m.plan, carried)
    assert next_moment(again) == at + DAY + WEEK
    assert check(again, at + DAY + WEEK, "changed") == [], "the change was told in the earlier run"


def test_a_transition_that_pinned_before_this_change_replays_without_a_check():
    m, at = approved(patched=lambda change: change != EVIDENCE_RECHECKED)
    assert m.state.evidence_watch is None
    assert m.take_recheck(at + 5 * DAY) is None
