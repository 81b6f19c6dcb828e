"""Attack 43, on 7cbd301 (a sent row's collision said in `Flushed.collisions`, apart from
`audit_error`; a write takes each entry id once, `infra.audit._once`; `bpo audit --verify` reads
every collision of a flush).

Actors: an insider who writes the audit database but never holds the workers' secret, and a
running transition that kept a plan from before a second channel of one kind was refused. Each
test asserts the safe behaviour; findings are marked xfail(strict=True) with their reason.
Only the flush activity (ActivityEnvironment, SQLite) and the pure rules are driven.

Findings, fixed since: a row the flush's mark vouches for counts as its own whatever its time, so
twin channels of a kept plan no longer collide when their sent rows are stored out of order;
`_once` says two of the batch's own entries differ, not that the table holds a row; a row whose
detail is no JSON object is a collision (or, in a chain, a named problem), never a crash of the
flush or of verify_chain. Left, as strict xfails: two email channels of a kept plan that hold for
digests differently still collide; an unmarked run's rows written though the write's answer was
lost collide once its flushes mark.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.api.history.v1 import HistoryEvent
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import ActivityEnvironment

from activities.notify import Sent
from activities.outbox import OutboxActivities
from bpo.anchors import Recorded, _read_run
from bpo.commands.verifying import _against
from infra.audit import COLLISION, AuditCollision, chain_before, write_entries
from infra.chain import hold_to_heads, verify_chain
from models.deliveries import AuditEntry, ChainHead, Delivery, Flush, delivery_id
from models.plan import EmailChannel, WebhookChannel
from models.tables import AuditRecord, audit_uuid
from tests.rules.sim import Run
from tests.test_attack39 import N1, N2, chain, entry, heads_of, notice_delivery, run
from tests.test_attack41 import delete
from tests.test_attack42 import count_rows, log_delivery, plant
from tests.test_flush_marks import Counting, chain_by_hand, started
from workflows.rules import deliveries as rules


def twin_webhooks(nid: str = "t1/run/3") -> tuple[Delivery, Delivery]:
    """A notice's two deliveries in a plan kept from before a second webhook was refused."""
    a = notice_delivery(nid)
    return a, a.model_copy(update={"channel": WebhookChannel(kind="webhook", url="https://hooks.example/b")})


class SlowFirst(Counting):
    """The first webhook answers at once, the second a moment later: the first's sent row is the
    earlier one."""

    async def send(self, delivery: Delivery, attempt: int = 1) -> Sent:
        self.sends += 1
        await asyncio.sleep(0.0 if delivery.channel.url == "https://hooks.example/x" else 0.05)  # type: ignore[union-attr]
        return Sent()


def outbox_with(engine: Engine, notify: Counting, write: Any) -> OutboxActivities:
    """The flush activity, its writer's ``write`` wrapped by ``write(real, entries, flush)``."""
    outbox = OutboxActivities(notify, timedelta(hours=1))
    real = outbox.writer.write

    async def wrapped(entries: list[AuditEntry], flush: str | None = None) -> tuple[int, list[ChainHead]]:
        return await write(real, entries, flush)

    outbox.writer.write = wrapped  # type: ignore[method-assign]
    return outbox


async def flush_with(outbox: OutboxActivities, audit: list[AuditEntry], deliveries: list[Delivery], nonce: str | None):
    return await ActivityEnvironment().run(outbox.flush, Flush(audit=audit, deliveries=deliveries, nonce=nonce))


# --- 1. two channels of one kind (a plan kept from before): their own rows collide -------------


async def test_two_webhooks_one_sent_row_lost_to_a_blip_do_not_stall_the_trail(tmp_path: Path):
    engine, _ = started(tmp_path)
    notify = SlowFirst(engine, httpx.AsyncClient())
    failed: list[str] = []

    async def write(real, entries, flush):  # the first sent row's write meets a database away a moment
        if entries[0].kind == "notification_sent" and not failed:
            failed.append(entries[0].id)
            raise ConnectionError("database away a moment")
        return await real(entries, flush)

    outbox = outbox_with(engine, notify, write)
    a, b = twin_webhooks()
    first = await flush_with(outbox, [entry("t1/run/2")], [a, b], N1)
    assert first.audit_error is None and first.collisions == []
    kept = [o.entry for o in first.outcomes if o.entry]
    assert len(kept) == 1, "the first twin's row comes back for the next flush"
    later = await run(notify, [*kept, entry("t1/run/4")], [], N2)
    assert later.audit_error is None, f"the trail stalls: {later.audit_error}"


async def test_two_webhooks_written_out_of_order_are_no_collision(tmp_path: Path):
    engine, _ = started(tmp_path)
    notify = Counting(engine, httpx.AsyncClient())
    order: list[str] = []

    async def write(real, entries, flush):  # the first-dated sent row's commit comes second
        if entries[0].kind == "notification_sent" and not order:
            order.append("a")
            await asyncio.sleep(0.1)
        return await real(entries, flush)

    outbox = outbox_with(engine, notify, write)
    a, b = twin_webhooks()
    f = await flush_with(outbox, [entry("t1/run/2")], [a, b], N1)
    assert f.collisions == [], f"a collision no one made: {f.collisions}"
    assert f.audit_head is not None


class Digests(Counting):
    """The deployment's mailer holds Dana's copy for her digest; a client's relay mails it."""

    async def send(self, delivery: Delivery, attempt: int = 1) -> Sent:
        self.sends += 1
        return Sent(held=["dana"] if delivery.channel.connection is None else [])  # type: ignore[union-attr]


def twin_emails(nid: str = "t1/run/3") -> tuple[Delivery, Delivery]:
    a = notice_delivery(nid)
    own = a.model_copy(
        update={"channel": EmailChannel(kind="email", smtp="${BPO_SMTP_URL}", sender="bpo@acme.example")}
    )
    relay = a.model_copy(update={"channel": EmailChannel(kind="email", sender="bpo@acme.example", connection="relay")})
    return own, relay


@pytest.mark.xfail(
    strict=True,
    reason="finding: two email channels of a kept plan (the deployment's mailer, which holds for "
    "digests, and a client's relay, which does not) make two different rows under one id "
    "(deferred_to_digest vs notification_sent): the second always collides with the first "
    "(infra/audit.py:214 in _deliver's write; activities/outbox.py:172), comes back to the workflow "
    "and collides on every later flush, stalling the trail for good; 7cbd301's _once covers only "
    "identical twins. Fix: give a channel's sent row an id per channel position once kinds repeat "
    "(or merge the twins' rows), and refuse such a plan at continue-as-new",
)
async def test_two_email_channels_of_a_kept_plan_do_not_stall_the_trail(tmp_path: Path):
    engine, _ = started(tmp_path)
    notify = Digests(engine, httpx.AsyncClient())
    own, relay = twin_emails()
    first = await run(notify, [entry("t1/run/2")], [own, relay], N1)
    kept = [o.entry for o in first.outcomes if o.entry]
    later = await run(notify, [*kept, entry("t1/run/4")], [], N2)
    assert first.collisions == [] and later.audit_error is None, (first.collisions, later.audit_error)


def test_two_entries_of_one_id_in_a_batch_are_not_blamed_on_a_row_in_the_table(tmp_path: Path):
    engine, _ = started(tmp_path)
    one = entry("t1/run/2")
    other = one.model_copy(update={"kind": "gate_passed"})
    with Session(engine) as session, pytest.raises(AuditCollision) as caught:
        write_entries([one, other], session=session, flush="f")
    said = str(caught.value)
    assert said.startswith(COLLISION)  # --verify still reads it
    assert "row None" not in said and "written by something other than the transition" not in said, said


# --- 2. what held ---------------------------------------------------------------------------------


async def test_identical_twin_rows_in_one_write_are_written_once_and_a_retry_is_its_own(tmp_path: Path):
    """`_once`: the later twin (another time) dropped, the count one, the chain one row longer; the
    same batch written again finds its row (no collision, nothing new) and `chain_before` covers
    exactly it."""
    engine, before = started(tmp_path)
    a = entry("t1/run/3/log", kind="notification_sent")
    b = a.model_copy(update={"at": a.at + timedelta(seconds=1)})
    c = a.model_copy(update={"at": a.at - timedelta(seconds=1)})
    written: list[ChainHead] = []
    with Session(engine) as session:
        assert write_entries([a, b, c, entry("t1/run/4")], session=session, flush="f", written=written) == 2
    assert [h.position - h.since for h in written if h.since is not None] == [2]
    with Session(engine) as session:
        assert write_entries([a, b, c, entry("t1/run/4")], session=session, flush="f") == 0
    _, head = chain_before(engine, "t1", [a.id, b.id, c.id, "t1/run/4"], "f")
    assert head is not None and head.since == before.position and head.position == before.position + 2
    rows = chain(engine)
    assert verify_chain(rows).problem is None and hold_to_heads(rows, [before, *written, head]) is None


async def test_log_rows_refused_for_a_collision_come_back_and_are_written_once_the_row_is_gone(tmp_path: Path):
    engine, before = started(tmp_path)
    notify = Counting(engine, httpx.AsyncClient())
    logs = [log_delivery("t1/run/3"), log_delivery("t1/run/5")]
    plant(engine, delivery_id(logs[1]))
    m, now = Run().machine, datetime.now(UTC)
    m.outbox.audit = []
    rows = [entry("t1/run/2")]
    f1 = await run(notify, rows, logs, N1)
    assert f1.audit_error is None and f1.audit_head is None
    assert len(f1.collisions) == 1 and f1.collisions[0].startswith(COLLISION)
    rules.rows_kept(m, rows, f1.audit_error, now)
    rules.settle(m, logs, f1.outcomes, now, timedelta(hours=1))
    assert sorted(e.id for e in m.outbox.audit) == sorted(delivery_id(d) for d in logs), "no log row dropped"
    delete(engine, delivery_id(logs[1]))
    again = rules.take_rows(m)
    f2 = await run(notify, again, [], N2)
    rules.rows_kept(m, again, f2.audit_error, now)
    assert f2.audit_error is None and m.state.unwritten == []
    assert all(count_rows(engine, delivery_id(d)) == 1 for d in logs)
    chained = chain(engine)
    assert verify_chain(chained).problem is None
    assert hold_to_heads(chained, [before, *heads_of(f1, f2)]) is None


async def test_a_collision_that_stands_keeps_the_sent_row_across_continue_as_new(tmp_path: Path):
    """The planted row stays: the sent row goes to the outbox, then to ``unwritten`` with the
    next flush's entries, and the state a continue-as-new carries (its input, round-tripped
    through the data converter) still holds every one of them."""
    engine, _ = started(tmp_path)
    notify = Counting(engine, httpx.AsyncClient())
    m, now = Run().machine, datetime.now(UTC)
    m.outbox.audit = []
    d = notice_delivery("t1/run/3")
    plant(engine, delivery_id(d))
    rows = [entry("t1/run/2")]
    f1 = await run(notify, rows, [d], N1)
    rules.rows_kept(m, rows, f1.audit_error, now)
    rules.settle(m, [d], f1.outcomes, now, timedelta(hours=1))
    m.outbox.audit.append(entry("t1/run/4"))
    again = rules.take_rows(m)
    f2 = await run(notify, again, [], N2)
    assert f2.audit_error and f2.audit_error.startswith(COLLISION)
    rules.rows_kept(m, again, f2.audit_error, now)
    converter = pydantic_data_converter
    payloads = await converter.encode([m.state])
    [carried] = await converter.decode(payloads, [type(m.state)])
    assert {e.id for e in carried.unwritten} == {delivery_id(d), "t1/run/4"}
    assert carried.audit_retry_at is not None, "tried again later, at a pace"
    delete(engine, delivery_id(d))
    f3 = await run(notify, rules.take_rows(SimpleNamespace(state=carried, outbox=SimpleNamespace(audit=[]))), [], N2)  # type: ignore[arg-type]
    assert f3.audit_error is None and count_rows(engine, delivery_id(d)) == 1 and count_rows(engine, "t1/run/4") == 1
    assert notify.sends == 1


def flush_event(payloads: Any) -> HistoryEvent:
    """A flush's local activity marker, as the history holds it."""
    event = HistoryEvent()
    marker = event.marker_recorded_event_attributes
    marker.marker_name = "core_local_activity"
    marker.details["data"].payloads.add(data=json.dumps({"activity_type": "flush_outbox"}).encode())
    marker.details["result"].payloads.extend(payloads)
    return event


async def test_every_collision_of_a_flush_reaches_verify(tmp_path: Path):
    """Two sent rows and a log row refused, and the entries' own write refused too: every reason
    is read back from the history, and --verify fails naming the first."""
    engine, _ = started(tmp_path)
    notify = Counting(engine, httpx.AsyncClient())
    d1, d2, lg = notice_delivery("t1/run/3"), notice_delivery("t1/run/5"), log_delivery("t1/run/7")
    for eid in (delivery_id(d1), delivery_id(d2), delivery_id(lg), "t1/run/2"):
        plant(engine, eid)
    f = await run(notify, [entry("t1/run/2")], [d1, d2, lg], N1)
    assert f.audit_error and len(f.collisions) == 3 and f.audit_head is None
    converter = pydantic_data_converter
    client = SimpleNamespace(data_converter=converter)
    record = Recorded()
    await _read_run(client, "r1", [flush_event(await converter.encode([f]))], record, newest=True)  # type: ignore[arg-type]
    said = set(record.collisions)
    assert said == {f.audit_error, *f.collisions}
    assert _against(chain(engine), record)


async def test_a_flush_whose_only_collision_is_a_sent_row_still_fails_verify_after_the_row_is_gone(tmp_path: Path):
    engine, before = started(tmp_path)
    notify = Counting(engine, httpx.AsyncClient())
    d = notice_delivery("t1/run/3")
    plant(engine, delivery_id(d))
    f1 = await run(notify, [entry("t1/run/2")], [d], N1)
    delete(engine, delivery_id(d))
    kept = [o.entry for o in f1.outcomes if o.entry]
    f2 = await run(notify, kept, [], N2)
    assert f2.audit_error is None and not f2.collisions
    converter = pydantic_data_converter
    record = Recorded()
    events = [flush_event(await converter.encode([x])) for x in (f1, f2)]
    await _read_run(SimpleNamespace(data_converter=converter), "r1", events, record, newest=True)  # type: ignore[arg-type]
    rows = chain(engine)
    assert verify_chain(rows).problem is None and hold_to_heads(rows, [before, *record.heads]) is None
    assert record.collisions and _against(rows, record), "the history names the collision"


async def test_twin_webhooks_behind_a_planted_row_are_both_kept_and_written_once_when_it_is_gone(tmp_path: Path):
    """The insider plants a row under the twins' shared sent-row id: both deliveries are sent, both
    rows come back (every reason kept), the next flushes keep them, and once the row is gone the id
    is written once, verifying against every head."""
    engine, before = started(tmp_path)
    notify = Counting(engine, httpx.AsyncClient())
    m, now = Run().machine, datetime.now(UTC)
    m.outbox.audit = []
    a, b = twin_webhooks()
    plant(engine, delivery_id(a))
    rows = [entry("t1/run/2")]
    f1 = await run(notify, rows, [a, b], N1)
    assert notify.sends == 2 and len(f1.collisions) == 2 and f1.audit_head is None
    rules.rows_kept(m, rows, f1.audit_error, now)
    rules.settle(m, [a, b], f1.outcomes, now, timedelta(hours=1))
    again = [*rules.take_rows(m), entry("t1/run/4")]
    f2 = await run(notify, again, [], N2)
    assert f2.audit_error and f2.audit_error.startswith(COLLISION)
    rules.rows_kept(m, again, f2.audit_error, now)
    delete(engine, delivery_id(a))
    third = rules.take_rows(m)
    f3 = await run(notify, third, [], N2)
    rules.rows_kept(m, third, f3.audit_error, now)
    assert f3.audit_error is None and m.state.unwritten == []
    assert count_rows(engine, delivery_id(a)) == 1 and count_rows(engine, "t1/run/4") == 1
    chained = chain(engine)
    assert verify_chain(chained).problem is None
    assert hold_to_heads(chained, [before, *heads_of(f1, f2, f3)]) is None


# --- 3. an unmarked run's rows written though the write said it failed ------------------------


@pytest.mark.xfail(
    strict=True,
    reason="finding: a write that committed but whose answer was lost (the writer's process died after "
    "its commit: BrokenProcessPool) leaves an unmarked run's written rows in `unwritten` (rows_kept, "
    "workflows/rules/deliveries.py:101); once flushes mark (continue-as-new, or the first flush after "
    "the upgrade), says_the_same (infra/audit.py:164) refuses the transition's own unmarked rows, so "
    "the trail stalls for good and --verify blames an insider. 7cbd301 stopped the collision path "
    "from keeping written rows, not this one. Fix: a marked flush accepts a stored row that carries no "
    "mark at all when it was chained (position set) before the first marked flush's head recorded in "
    "state (or compare content only for rows below the run's carried audit_head)",
)
async def test_an_unmarked_runs_rows_written_though_the_answer_was_lost_do_not_stall_a_marked_run(tmp_path: Path):
    engine, _ = started(tmp_path)
    notify = Counting(engine, httpx.AsyncClient())

    async def write(real, entries, flush):  # committed, then the writer's process is gone
        await real(entries, flush)
        raise ConnectionError("the writer's process died after its commit")

    m, now = Run().machine, datetime.now(UTC)
    m.outbox.audit = []
    rows = [entry("t1/run/2"), entry("t1/run/3")]
    f1 = await flush_with(outbox_with(engine, notify, write), rows, [], None)  # a run from before marks
    assert f1.audit_error and count_rows(engine, "t1/run/2") == 1
    rules.rows_kept(m, rows, f1.audit_error, now)
    carried = rules.take_rows(m)  # continue-as-new: unwritten carried, the new run marks
    f2 = await run(notify, [*carried, entry("t1/run/4")], [], N2)
    assert f2.audit_error is None, f"the transition's own rows collide with themselves: {f2.audit_error}"


# --- 4. a planted row whose detail is no JSON object ----------------------------------------------


def plant_odd(engine: Engine, event_id: str, detail: Any) -> None:
    """The insider's row under a predictable id, its ``detail`` a JSON value that is no object (the
    column is JSON: Postgres and SQLite both take a list, a string, a number)."""
    with Session(engine) as session:
        session.add(AuditRecord(id=audit_uuid(event_id), event_id=event_id, transition_id="zz",
                                kind="notification_sent", phase="x", at=datetime.now(UTC), detail=detail))  # fmt: skip
        session.commit()


@pytest.mark.parametrize("detail", [["x"], "x", 5])
async def test_a_planted_sent_row_with_an_odd_detail_does_not_fail_the_flush(tmp_path: Path, detail: Any):
    engine, _ = started(tmp_path)
    notify = Counting(engine, httpx.AsyncClient())
    d = notice_delivery("t1/run/3")
    plant_odd(engine, delivery_id(d), detail)
    f = await run(notify, [entry("t1/run/2")], [d], N1)
    assert notify.sends == 1 and any(c.startswith(COLLISION) for c in f.collisions)


async def test_a_planted_entry_row_with_an_odd_detail_is_named_as_a_collision(tmp_path: Path):
    engine, _ = started(tmp_path)
    notify = Counting(engine, httpx.AsyncClient())
    plant_odd(engine, "t1/run/2", ["x"])
    f = await run(notify, [entry("t1/run/2")], [], N1)
    assert f.audit_error and f.audit_error.startswith(COLLISION), f.audit_error


@pytest.mark.parametrize("kind", ["kpi_reading", "approved"])
def test_verify_names_a_command_row_chained_by_hand_with_an_odd_detail(tmp_path: Path, kind: str):
    engine, _ = started(tmp_path)
    chain_by_hand(engine, AuditRecord(id=audit_uuid("t1/x/9"), event_id="t1/x/9", transition_id="t1", kind=kind,
                                      phase="planning", via="cli", at=datetime.now(UTC), detail=["x"]))  # fmt: skip
    verdict = verify_chain(chain(engine))
    assert verdict.problem and "row 2" in verdict.problem
