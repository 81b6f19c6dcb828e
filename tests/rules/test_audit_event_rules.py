"""The typed audit events held against what writes the rows: every kind the rules (and the
notification activity, and a delivery's row) write has a model, the rows a run of the rules writes read back typed with
every detail key a field of their model, and a row of an unknown kind or an old shape still reads."""

from __future__ import annotations

import ast
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from models.audit_events import EVENTS, event_of
from models.audit_events.base import Unknown
from models.audit_events.decisions import Approved, Ticked
from models.audit_events.happenings import KpiReading
from models.commands import (
    COMMANDS,
    Amend,
    Approve,
    Cancel,
    ChangeRoster,
    Delegate,
    Escalate,
    Note,
    Pause,
    PullFeed,
    RaidAdd,
    RaidClose,
    RecordReadings,
    Reject,
    Resume,
    RetryNotices,
    TrustKeys,
)
from models.deliveries import AuditEntry
from models.feeds import FeedResult
from models.plan import Person
from tests.rules import test_feed_rules as feeds
from tests.rules import test_value_rules as value_rules
from tests.rules.sim import DANA, EVE, GOOD, LI, RAJ, Run
from tests.rules.test_amendment_rules import version
from tests.rules.test_business_time_rules import business_run
from tests.rules.test_delivery_rules import tried
from tests.rules.test_key_rules import NEW, OLD, keyed
from tests.rules.test_reading_rules import in_steady_state
from tests.rules.test_recheck_rules import PAT, approved, check
from tests.rules.test_scorecard_rules import score, scorecard_plan

ROOT = Path(__file__).resolve().parents[2]
WRITERS = [
    *sorted((ROOT / "workflows" / "rules").rglob("*.py")),
    ROOT / "activities" / "notify.py",
    ROOT / "models" / "deliveries.py",  # a delivery's row (`sent_entry`)
]


def written_kinds() -> dict[str, str]:
    """Every kind named as a string where a row is written: the first argument of ``audit(...)``
    and ``decided(...)`` (either side of a conditional too), and ``AuditEntry(kind=...)``; with
    where it was found."""
    found: dict[str, str] = {}
    for path in WRITERS:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            named: list[ast.expr] = []
            if name in ("audit", "decided") and node.args:
                first = node.args[0]
                named = [first.body, first.orelse] if isinstance(first, ast.IfExp) else [first]
            elif name == "AuditEntry":
                kinds = [k.value for k in node.keywords if k.arg == "kind"]
                named = [s for k in kinds for s in ([k.body, k.orelse] if isinstance(k, ast.IfExp) else [k])]
            for expr in named:
                if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
                    found.setdefault(expr.value, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_kind_the_rules_write_or_a_command_declares_has_a_model():
    written = written_kinds()
    assert {"approved", "escalation", "settlement", "notification_sent", "amendment_rejected"} <= set(written)
    declared = {kind: f"{command.__name__}.audited" for command in COMMANDS for kind in command.audited}
    missing = {kind: where for kind, where in {**declared, **written}.items() if kind not in EVENTS}
    assert not missing, f"kinds written with no model in models/audit_events: {missing}"


def stored(entry: AuditEntry) -> SimpleNamespace:
    """The row as the audit database gives it back: its detail through JSON."""
    return SimpleNamespace(**{**entry.model_dump(), "detail": json.loads(json.dumps(entry.detail, default=str))})


def fields_of(model: type) -> set[str]:
    names: set[str] = set()
    for name, info in model.model_fields.items():  # type: ignore[attr-defined]
        names |= {name, info.validation_alias} if isinstance(info.validation_alias, str) else {name}
    return names


def rows_of_a_busy_run() -> list[AuditEntry]:
    """A run of the reference plan that makes most kinds of row, and the rows of a few smaller ones."""
    run = Run()
    run.do(Note(text="kick-off booked", by=EVE))
    run.do(Delegate(person=DANA, to=LI, until=date(2027, 1, 10), by=DANA))
    run.do(Delegate(person=DANA, end=True, by=DANA))
    run.do(RaidAdd(kind="issue", title="Payroll feed down", owner=RAJ, severity="critical", by=LI))
    run.do(RaidClose(item="I-1", note="feed restored", by=RAJ))
    run.read("W1", **GOOD)
    run.do(RecordReadings(period="W1", values={"csat": 80.0}, by=RAJ, correct=True, reason="double-counted"))
    run.pass_planning()
    run.reject("kickoff_held", LI)  # rework: the clocks stop until someone resumes
    run.later(days=2)
    run.do(Resume(by=LI, reason="a new plan agreed"))
    run.do(Escalate(reason="the provider is slow to staff", by=LI))
    run.do(ChangeRoster(add=[Person(id="zed@acme.example", name="Zed", roles=["sme"])], by=LI))
    run.later(days=30)
    tried(run, "failed")
    run.do(RetryNotices(by=LI))
    run.machine.refused_signal("approve", None, "gate 'x' is not open", "NotOpen", run.now)
    run.do(Amend(plan=version(("    due: 10d\n", "    due: 20d\n")), reason="more time", by=LI))
    run.do(Approve(gate="amendment_1", by=DANA))
    run.do(Amend(plan=version(("    due: 10d\n", "    due: 30d\n")), reason="more time still", by=LI))
    run.do(Reject(gate="amendment_2", reason="no", by=DANA))
    run.waive("kickoff_held", DANA)
    run.do(Pause(by=LI, reason="client holiday"))
    run.do(Cancel(reason="the contract ended", by=DANA))
    rows = list(run.audit)

    steady = in_steady_state()
    steady.read("W1", csat=80.0)
    steady.later(days=200)
    rows += steady.audit

    objectives = Run()
    objectives.reach_pilot()
    objectives.do(RecordReadings(period="W1", values={"csat": 86.0}, by=LI))
    objectives.later(days=178)
    rows += objectives.audit

    valued = Run(value_rules.PLAN)
    valued.do(value_rules.cost("1250.50", "travel"))
    rows += valued.audit
    scored = Run(scorecard_plan())
    scored.do(score(LI, 5, 4, 3))
    rows += scored.audit

    signed = keyed()
    signed.do(OLD.sign("t-1", TrustKeys(add=[NEW.public_key], by=LI, request_id="k-1"), "run-a", signed.now))
    rows += signed.audit

    m, at = approved()
    rows += check(m, at + timedelta(days=1), "changed") + check(m, at + timedelta(days=8), "unreachable")

    warned = business_run()
    warned.later(days=6)
    rows += warned.audit

    f = feeds.machine()
    when = datetime(2027, 1, 11, 2, 0, tzinfo=UTC)
    [pull] = feeds.at(f, when)
    f.pull_started("contact_centre")
    f.feed_pulled(pull, FeedResult(source="contact_centre", readings={"2027-W01": feeds.GOOD}), when)
    ask = PullFeed(periods=["2027-W01"], by=PAT)
    f.check(ask, when)
    f.apply(ask, when)
    [pull] = feeds.at(f, when)
    f.pull_started("contact_centre")
    f.feed_pulled(pull, FeedResult(source="contact_centre", readings={"2027-W01": {"csat": 70.0}}), when)
    [pull] = feeds.at(f, when := datetime(2027, 1, 18, 2, 0, tzinfo=UTC))
    f.feed_pulled(pull, FeedResult(source="contact_centre", no_data={"2027-W02": "the source answered HTML"}), when)
    rows += f.take_outbox().audit
    return rows


def test_a_run_of_the_rules_writes_rows_that_all_read_as_their_typed_events():
    rows = rows_of_a_busy_run()
    seen: set[str] = set()
    for entry in rows:
        event = event_of(stored(entry))
        assert not isinstance(event, Unknown), f"{entry.kind} read as Unknown: {entry.detail}"
        assert type(event) is EVENTS[entry.kind] and event.at == entry.at and event.gate == entry.gate
        unnamed = {"of_kind" if k == "kind" else k for k in entry.detail} - fields_of(type(event))
        assert not unnamed, f"{entry.kind} writes {sorted(unnamed)}, which its model does not name"
        seen.add(entry.kind)
    # The run makes nearly every kind, so the check above means something. Not made here: a sent
    # notice or one held for a digest (the notification activity writes them), the kinds only long
    # runs reach, and a program's (tests/rules/test_program_rules.py reads those).
    program = {k for k, model in EVENTS.items() if model.__module__ == "models.audit_events.programs"}
    assert set(EVENTS) - seen - program <= {
        "notification_sent",
        "deferred_to_digest",
        "business_review_due",
        "transition_completed",
        "wave_started",
    }


def row(kind: str, **detail: object) -> SimpleNamespace:
    at = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
    return SimpleNamespace(
        kind=kind, transition_id="t-1", phase="planning", gate="g", actor=LI, at=at, via="cli", detail=detail
    )


def test_a_row_of_a_kind_this_code_does_not_know_reads_as_unknown_with_its_detail():
    event = event_of(row("moon_landed", crew=3))
    assert isinstance(event, Unknown) and event.kind == "moon_landed" and event.detail == {"crew": 3}


def test_an_old_row_missing_fields_or_holding_another_shape_still_reads():
    old = event_of(row("approved", note="fine", pinned="not a pin", extra="ignored"))
    assert isinstance(old, Approved) and old.note == "fine" and old.pinned is None and old.evidence is None
    tick = event_of(row("ticked"))
    assert isinstance(tick, Ticked) and tick.item is None and tick.note is None
    reading = event_of(row("kpi_reading", period="W1", values={"csat": "91"}))
    assert isinstance(reading, KpiReading) and reading.values == {"csat": 91.0}
