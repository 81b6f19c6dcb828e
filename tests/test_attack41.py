"""Attack 41, on e85ee5c (a flush's mark covers what its row says: sha256(keyed value + "\\n" +
canonical JSON of the row's content, its mark aside)). The insider writes and reads the audit
database and reads Temporal's history; never holds BPO_AUDIT_MARK_KEY.

Each test states the behaviour the change must keep; a failing test is a break. Three were
findings, fixed since: a row planted in another transition hid the earlier try (`chain_before`
looked the rows up in every transition), a sent row's collision left no reason and no writes in
the flush's answer, and an unmarked flush's own row with a "flush" key collided with itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.exceptions import ApplicationError

from activities.notify import Sent
from infra.audit import COLLISION, FLUSH_MARK, chain_head, marked, read_chain, write_entries
from infra.chain import hold_to_heads, row_hash, verify_chain
from models.deliveries import AuditEntry, Delivery, delivery_id, sent_entry
from models.signing import new_key_pair
from models.tables import AuditHead, AuditRecord, audit_uuid
from tests.test_attack39 import N1, N2, chain, entry, heads_of, notice_delivery, run, tamper, tried_once
from tests.test_flush_marks import Counting, started


def rechain(engine: Engine, tid: str = "t1") -> None:
    """A database administrator renumbers and rehashes a chain after rows were moved or removed."""
    with Session(engine) as session:
        rows = read_chain(tid, session=session)
        prev = "0" * 64
        for n, row in enumerate(rows, start=1):
            row.position, row.prev_hash = n, prev
            row.hash = prev = row_hash(row)
            session.add(row)
        head = session.get(AuditHead, tid)
        assert head is not None
        head.position, head.hash = len(rows), prev
        session.add(head)
        session.commit()


def delete(engine: Engine, *event_ids: str) -> None:
    with Session(engine) as session:
        for eid in event_ids:
            session.delete(session.exec(select(AuditRecord).where(AuditRecord.event_id == eid)).one())
        session.commit()


class Refusing(Counting):
    """The first try's mail server refused Dana."""

    async def send(self, delivery: Delivery, attempt: int = 1) -> Sent:
        self.sends += 1
        return Sent(refused={"dana": "550 5.1.1 mailbox unavailable"})


class FailingSome(Counting):
    """A channel whose endpoint is gone for good for the notices named (no sent row is written)."""

    def __init__(self, *args, failing: set[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.failing = failing

    async def send(self, delivery: Delivery, attempt: int = 1) -> Sent:
        if delivery.notice.id in self.failing:
            raise ApplicationError("410 gone", non_retryable=True)
        self.sends += 1
        return Sent()


# --- 1. every column the mark covers, edited in an earlier try's row -----------------------------

EDITS = {
    "kind": {"kind": "approved"},
    "phase": {"phase": "steady_state"},
    "gate": {"gate": "sponsor_signoff"},
    "actor": {"actor": "mallory"},
    "via": {"via": "cli"},
    "signature": {"signature": "c2lnbmVk"},
    "at_earlier": {"at": datetime(2020, 1, 1, tzinfo=UTC)},
}


@pytest.mark.parametrize("edit", list(EDITS))
async def test_each_covered_column_edited_between_tries_collides(tmp_path: Path, edit: str):
    engine, before, notify, batch = await tried_once(tmp_path)
    tamper(engine, "t1/run/2", **EDITS[edit])
    again = await run(notify, *batch, N2)
    rows = chain(engine)
    anchored = again.audit_head is not None and hold_to_heads(rows, [before, *heads_of(again)]) is None
    assert not anchored and again.audit_error and COLLISION in again.audit_error


SENT_EDITS = {
    "subject": lambda d: {**d, "subject": "All fine"},
    "recipients": lambda d: {**d, "recipients": []},
    "held": lambda d: {**d, "held": ["dana"]},
    "refused": lambda d: {**d, "refused": {"dana": "550"}},
    "extra_key": lambda d: {**d, "note": "edited"},
    "float_for_int": lambda d: {**d, "recipients": d["recipients"], "n": 1.0},
}


@pytest.mark.parametrize("edit", list(SENT_EDITS))
async def test_an_earlier_trys_sent_row_edited_in_its_detail_is_not_taken_for_sent(tmp_path: Path, edit: str):
    """Any edit of a sent row's detail (its mark kept) stops it counting as the earlier try's: the
    notice goes out again (never suppressed), and no head covers the edited row."""
    engine, before, notify, batch = await tried_once(tmp_path)
    d = batch[1][0]
    with Session(engine) as session:
        row = session.exec(select(AuditRecord).where(AuditRecord.event_id == delivery_id(d))).one()
        detail = SENT_EDITS[edit](dict(row.detail))
    tamper(engine, delivery_id(d), detail=detail)
    again = await run(notify, *batch, N2)
    assert notify.sends == 2, "the edited sent row was taken for the earlier try's"
    rows = chain(engine)
    assert again.audit_head is None or hold_to_heads(rows, [before, *heads_of(again)]) is not None


async def test_a_row_renamed_under_another_event_id_keeps_no_mark(tmp_path: Path):
    """The row's key kept, its event id changed to the next notice's: the mark covers the id."""
    engine, _ = started(tmp_path)
    notify = Counting(engine, httpx.AsyncClient())
    await run(notify, [entry("t1/run/2")], [notice_delivery("t1/run/3")], N1)
    nxt = notice_delivery("t1/run/5")
    with Session(engine) as session:
        row = session.exec(select(AuditRecord).where(AuditRecord.event_id == "t1/run/3/webhook")).one()
        row.id, row.event_id, row.detail = (
            audit_uuid(delivery_id(nxt)),
            delivery_id(nxt),
            {**row.detail, "notice": "t1/run/5"},
        )
        session.add(row)
        session.commit()
    before = notify.sends
    await run(notify, [entry("t1/run/4")], [nxt], N2)
    assert notify.sends == before + 1


async def test_a_genuine_row_moved_to_another_transition_is_not_its_earlier_try(tmp_path: Path):
    engine, _ = started(tmp_path)
    _, public = new_key_pair()
    with Session(engine) as session:
        write_entries([AuditEntry(id="t2/run/1", transition_id="t2", kind="transition_started", phase="planning",
                                  at=datetime.now(UTC), detail={"trusted_keys": [public]})], session=session)  # fmt: skip
    notify = Counting(engine, httpx.AsyncClient())
    d = notice_delivery("t1/run/3")
    await run(notify, [entry("t1/run/2")], [d], N1)
    with Session(engine) as session:
        row = session.exec(select(AuditRecord).where(AuditRecord.event_id == delivery_id(d))).one()
        row.transition_id, row.position = "t2", 2
        session.add(row)
        session.commit()
    again = await run(notify, [entry("t1/run/2")], [d], N1)
    assert notify.sends == 2 and again.audit_head is None


# --- 2. a genuine retry: other order, later times, other refused recipients ---------------------


async def test_a_retry_in_another_order_with_other_refused_recipients_is_its_own(tmp_path: Path):
    """The first try's mail server refused Dana; the task runs again (later times), a delivery
    retry drawing the first value, and the decision's flush then finds Dana accepted: its own
    rows all the same, nothing sent twice, and the heads cover them."""
    engine, before = started(tmp_path)
    first = Refusing(engine, httpx.AsyncClient())
    decision = ([entry("t1/run/2"), entry("t1/run/4")], [notice_delivery("t1/run/3"), notice_delivery("t1/run/5")])
    await run(first, *decision, N1)
    assert first.sends == 2
    notify = Counting(engine, httpx.AsyncClient())
    retry = await run(notify, [], [notice_delivery("t1/run/0", subject="Welcome")], N1)
    later = ([entry("t1/run/4"), entry("t1/run/2")], [notice_delivery("t1/run/5"), notice_delivery("t1/run/3")])
    redone = await run(notify, *later, N2)
    assert redone.audit_error is None and notify.sends == 1, "no collision, the decision's notices not sent twice"
    rows = chain(engine)
    assert verify_chain(rows).problem is None
    assert hold_to_heads(rows, [before, *heads_of(retry, redone)]) is None


async def test_a_sent_row_written_again_with_other_refused_and_later_time_does_not_collide(tmp_path: Path):
    """The write path (the sent rows read before were missed: the database was away then)."""
    engine, _ = started(tmp_path)
    d = notice_delivery("t1/run/3")
    flush = "k" * 64
    with Session(engine) as session:
        write_entries([sent_entry(d, {"dana": "550"})], session=session, flush=flush)
    again = sent_entry(d, {}).model_copy(update={"at": datetime.now(UTC) + timedelta(minutes=3)})
    with Session(engine) as session:
        assert write_entries([again], session=session, flush=flush) == 0


# --- 3. what the database gives back still carries its mark (SQLite and PostgreSQL) -------------

DETAILS = [
    {},
    {"x": 1.0, "y": 1, "z": 0.1, "big": 1e16, "huge": 1e300, "tiny": 5e-324, "neg": -0.0, "i": 2**63 + 1},
    {"text": 'é ☃ 😀 \u2028 \\ " \t', "ключ": "значение", "nul": "a\u0001b"},
    {"nested": {"b": [1, {"c": None}], "a": {"z": {}, "y": []}}, "none": None, "bool": True},
    {"values": {"csat": 4.5, "fcr": 0.93}, "period": "2026-W49", "when": "2026-12-06T12:00:00Z"},
]
TIMES = [datetime(2026, 12, 6, 12, 0, 0, tzinfo=UTC), datetime(2026, 12, 6, 12, 0, 0, 123456, tzinfo=UTC),
         datetime(2026, 12, 6, 12, 0, 0, 1, tzinfo=UTC)]  # fmt: skip


def begun(engine: Engine) -> None:
    _, public = new_key_pair()
    with Session(engine) as session:
        write_entries([AuditEntry(id="t1/run/1", transition_id="t1", kind="transition_started", phase="planning",
                                  at=datetime.now(UTC), detail={"trusted_keys": [public]})], session=session)  # fmt: skip


async def test_round_tripped_rows_still_carry_their_marks(engine: Engine):
    """The `engine` fixture: SQLite and a real PostgreSQL server."""
    begun(engine)
    before = chain_head(engine, "t1")
    entries = [
        AuditEntry(
            id=f"t1/run/{n + 2}",
            transition_id="t1",
            kind="reminded",
            phase="planning",
            gate=None if n % 2 else "g",
            actor=None if n % 3 else "feed:erp",
            at=TIMES[n % len(TIMES)],
            detail=detail,
        )  # fmt: skip
        for n, detail in enumerate(DETAILS)
    ]
    notify = Counting(engine, httpx.AsyncClient())
    first = await run(notify, entries, [notice_delivery("t1/run/9")], N1)
    assert first.audit_error is None
    with Session(engine) as session:
        rows = read_chain("t1", session=session)
    from activities.outbox import OutboxActivities
    from models.deliveries import Flush

    value = OutboxActivities(notify, timedelta(hours=1))._mark(Flush(audit=entries, deliveries=[], nonce=N1))
    unmarked = [r.event_id for r in rows[1:] if not marked(r, value)]
    assert not unmarked, f"rows whose mark no longer fits what the database gave back: {unmarked}"
    later = [e.model_copy(update={"at": e.at + timedelta(seconds=5)}) for e in reversed(entries)]
    redone = await run(notify, later, [notice_delivery("t1/run/9")], N2)
    assert redone.audit_error is None and notify.sends == 1 and redone.audit_head is not None
    rows = chain(engine)
    assert verify_chain(rows).problem is None
    assert hold_to_heads(rows, [before, *heads_of(redone)]) is None


# --- 4. the earlier try's place: chain_before's first row ---------------------------------------


@pytest.mark.parametrize("planted", [False, True])
async def test_a_row_of_another_transition_does_not_hide_the_earlier_try(tmp_path: Path, planted: bool):
    engine, before = started(tmp_path)
    notify = FailingSome(engine, httpx.AsyncClient(), failing={"t1/run/5"})
    batch = ([entry("t1/run/2")], [notice_delivery("t1/run/3"), notice_delivery("t1/run/5")])
    await run(notify, *batch, N1)  # the first try; its answer never reaches the history
    # The insider plants, in a transition of no concern, a row under the failing delivery's id
    # (the control: a row of that transition under an id of its own).
    eid = "t1/run/5/webhook" if planted else "zz/1"
    with Session(engine) as session:
        session.add(AuditRecord(id=audit_uuid(eid), event_id=eid, transition_id="zz", kind="reminded", phase="x",
                                at=datetime.now(UTC), detail={}, position=1, prev_hash="0" * 64, hash="0" * 64))  # fmt: skip
        session.commit()
    redone = await run(notify, *batch, N1)  # the task run again
    nxt = await run(notify, [entry("t1/run/6")], [], N2)  # the transition goes on
    assert redone.audit_error is None and notify.sends == 1
    rows = chain(engine)
    assert verify_chain(rows).problem is None
    problem = hold_to_heads(rows, [before, *heads_of(redone, nxt)])
    assert problem is None, f"bpo audit --verify blames the transition's own rows: {problem}"


# --- 5. a flush whose sent row collided: what it wrote is anchored nowhere -----------------------


async def test_rows_of_a_flush_whose_sent_row_collided_cannot_be_removed_unseen(tmp_path: Path):
    engine, before = started(tmp_path)
    notify = Counting(engine, httpx.AsyncClient())
    d = notice_delivery("t1/run/3")
    # Put first, in no chain of t1, under the predictable id of the flush's sent row.
    with Session(engine) as session:
        session.add(AuditRecord(id=audit_uuid(delivery_id(d)), event_id=delivery_id(d), transition_id="zz",
                                kind="notification_sent", phase="x", at=datetime.now(UTC), detail={}))  # fmt: skip
        session.commit()
    decided = await run(notify, [entry("t1/run/2", kind="gate_failed")], [d], N1)
    assert notify.sends == 1  # sent, as it should be
    assert decided.audit_head is None and decided.writes, "no anchor, but each write's own place"
    assert any(COLLISION in c for c in decided.collisions), "the collision is said"
    # The insider removes the planted row and the flush's genuine row, and rehashes.
    delete(engine, delivery_id(d), "t1/run/2")
    rechain(engine)
    kept = [o.entry for o in decided.outcomes if o.entry]  # the workflow writes the sent row next time
    nxt = await run(notify, [*kept, entry("t1/run/4")], [], N2)
    rows = chain(engine)
    assert verify_chain(rows).problem is None
    problem = hold_to_heads(rows, [before, *heads_of(decided, nxt)])
    assert problem is not None, "the flush's genuine row t1/run/2 is gone, and its write's place does not say so"


# --- 6. a key literally named "flush" -------------------------------------------------------------


def test_an_unmarked_flushs_row_with_a_flush_key_is_its_own_on_a_retry(tmp_path: Path):
    engine, _ = started(tmp_path)
    e = entry("t1/run/2").model_copy(update={"detail": {FLUSH_MARK: "a value of the rules"}})
    with Session(engine) as session:
        write_entries([e], session=session)
    with Session(engine) as session:
        assert write_entries([e.model_copy(update={"at": e.at + timedelta(seconds=1)})], session=session) == 0


async def test_a_flush_key_in_an_entry_cannot_forge_the_mark(tmp_path: Path):
    """An entry whose detail carries "flush" (whatever it says) is marked over, never trusted."""
    engine, _ = started(tmp_path)
    notify = Counting(engine, httpx.AsyncClient())
    d = notice_delivery("t1/run/3")
    await run(notify, [entry("t1/run/2").model_copy(update={"detail": {FLUSH_MARK: "0" * 64}})], [d], N1)
    with Session(engine) as session:
        row = session.exec(select(AuditRecord).where(AuditRecord.event_id == "t1/run/2")).one()
    assert row.detail[FLUSH_MARK] != "0" * 64
