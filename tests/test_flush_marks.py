"""A flush marks its rows with a mark keyed with the workers' secret, which the audit database
never sees (`infra.audit.flush_mark`): a row put under one of its ids before it runs (a sent row
is predictable from the plan) is not taken for an earlier try, so the notice is sent and the rows
put there are not covered by the flush's head; its own earlier try still counts, even when the
task that made it ran again in another order (issue 25, the second attack's predicted sent rows:
branch ``reattack25``; the chaos drill of 2026-12-06)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.testing import ActivityEnvironment

from activities.notify import NotifyActivities, Sent
from activities.outbox import OutboxActivities
from infra.audit import chain_head, read_chain, record_of, write_entries
from infra.chain import hold_to_heads, row_hash, verify_chain
from infra.db import make_engine
from models.deliveries import AuditEntry, ChainHead, Delivery, Flush, Flushed, Notice, Recipient, sent_entry
from models.plan import WebhookChannel
from models.signing import new_key_pair
from models.tables import AuditHead, AuditRecord

NONCE = "3f2b8c1e-5d44-4a0e-9b1a-6f7e2d9c0a11"


class Counting(NotifyActivities):
    """Sends nothing, but counts what would have reached the recipients."""

    sends = 0

    async def send(self, delivery: Delivery, attempt: int = 1) -> Sent:
        self.sends += 1
        return Sent()


def started(tmp_path: Path) -> tuple[Engine, ChainHead]:
    """A transition that trusts a key, with its first row, and that row's head."""
    engine = make_engine(f"sqlite:///{tmp_path}/audit.db")
    _, public = new_key_pair()
    with Session(engine) as session:
        write_entries([AuditEntry(id="t1/run/1", transition_id="t1", kind="transition_started", phase="planning",
                                  at=datetime.now(UTC), detail={"trusted_keys": [public]})], session=session)  # fmt: skip
    head = chain_head(engine, "t1")
    assert head is not None
    return engine, head


def escalation() -> Delivery:
    notice = Notice(id="t1/run/2", transition_id="t1", kind="escalation", subject="Overdue: SLAs", text="…",
                    at=datetime.now(UTC), recipients=[Recipient(id="dana", name="Dana")], detail={"phase": "planning"})  # fmt: skip
    return Delivery(notice=notice, channel=WebhookChannel(kind="webhook", url="https://hooks.example/x"))


def chain_by_hand(engine: Engine, row: AuditRecord) -> None:
    """What a database administrator can do: a row chained at the tail, the head moved to it."""
    with Session(engine) as session:
        last = read_chain("t1", session=session)[-1]
        row.position, row.prev_hash = (last.position or 0) + 1, last.hash
        row.hash = row_hash(row)
        head = session.get(AuditHead, "t1")
        assert head is not None
        head.position, head.hash = row.position, row.hash
        session.add_all([row, head])
        session.commit()


def forged_reading() -> AuditRecord:
    """A feed's reading, which needs no signature, made up by hand."""
    return AuditRecord(id=uuid.uuid4(), event_id="t1/feed/forged", transition_id="t1", kind="kpi_reading",
                       phase="planning", actor="feed:erp", via="feed", at=datetime.now(UTC) - timedelta(minutes=4),
                       detail={"period": "2026-W49", "values": {"csat": 99}})  # fmt: skip


async def flush(notify: Counting, delivery: Delivery, nonce: str = NONCE) -> Flushed:
    outbox = OutboxActivities(notify, timedelta(hours=1))
    reminded = AuditEntry(id="t1/run/3", transition_id="t1", kind="reminded", phase="planning", at=datetime.now(UTC))
    return await ActivityEnvironment().run(outbox.flush, Flush(audit=[reminded], deliveries=[delivery], nonce=nonce))


def rows(engine: Engine) -> list[AuditRecord]:
    with Session(engine) as session:
        return read_chain("t1", session=session)


async def test_a_sent_row_written_before_its_flush_does_not_stop_the_notice(tmp_path: Path):
    engine, _ = started(tmp_path)
    delivery = escalation()
    # The row the delivery would write, an hour early, chained at the tail.
    chain_by_hand(
        engine, record_of(sent_entry(delivery, {}).model_copy(update={"at": datetime.now(UTC) - timedelta(hours=1)}))
    )
    notify = Counting(engine, httpx.AsyncClient())
    flushed = await flush(notify, delivery)
    assert notify.sends == 1, "the escalation reached the sponsor"
    assert flushed.audit_head is None, "a flush that met a row it did not write anchors no head"


async def test_a_reading_chained_after_a_predicted_sent_row_is_not_covered_by_the_flushs_head(tmp_path: Path):
    engine, before = started(tmp_path)
    delivery = escalation()
    chain_by_hand(
        engine, record_of(sent_entry(delivery, {}).model_copy(update={"at": datetime.now(UTC) - timedelta(minutes=5)}))
    )
    chain_by_hand(engine, forged_reading())
    notify = Counting(engine, httpx.AsyncClient())
    flushed = await flush(notify, delivery)
    assert notify.sends == 1
    held = [before, flushed.audit_head] if flushed.audit_head else [before]
    assert verify_chain(rows(engine)).problem is None
    assert flushed.audit_head is None or hold_to_heads(rows(engine), held) is not None


async def test_a_reading_chained_after_a_flushs_own_earlier_try_is_not_covered_by_its_head(tmp_path: Path):
    engine, before = started(tmp_path)
    delivery = escalation()
    notify = Counting(engine, httpx.AsyncClient())
    first = await flush(notify, delivery)
    chain_by_hand(engine, forged_reading())  # after the first try, before the task runs again
    again = await flush(notify, delivery)
    assert notify.sends == 1, "the earlier try's sent row carries this flush's mark: not sent twice"
    assert first.audit_head is not None
    # The try that ran again wrote nothing, so it vouches for nothing: the reading stays after
    # every head the transition recorded, where --verify never passes it.
    assert again.audit_head is None and again.writes == []
    assert (rows(engine)[-1].position or 0) > max(before.position, first.audit_head.position)


async def test_a_flush_run_again_finds_its_own_rows_and_its_head_covers_only_them(tmp_path: Path):
    engine, before = started(tmp_path)
    delivery = escalation()
    notify = Counting(engine, httpx.AsyncClient())
    await flush(notify, delivery)
    again = await flush(notify, delivery)
    assert notify.sends == 1 and again.audit_head is not None
    assert hold_to_heads(rows(engine), [before, again.audit_head]) is None
    # The same entries again, later, from a flush with another value: a workflow task run again
    # after a kill lost its completion, a retry that fell due first having drawn the first value
    # (the chaos drill, 2026-12-06: its trail stalled on a collision with its own row for good).
    redone = await flush(notify, delivery, nonce="another")
    assert redone.audit_error is None and notify.sends == 1, "its own rows: nothing collides, nothing is sent twice"
    assert redone.audit_head == again.audit_head
