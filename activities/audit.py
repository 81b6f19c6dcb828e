"""The audit activity: a thin adapter over the audit repository (`infra.audit`)."""

from __future__ import annotations

import structlog
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio import activity

from activities.notify import sent_entry
from infra.audit import record_of, says_the_same, write_entries
from models.deliveries import AuditBatch, AuditEntry, ChainHead, Delivery
from models.tables import AuditRecord, audit_uuid

log = structlog.get_logger(__name__)


class AuditActivities:
    """Holds the database engine; its bound methods are the registered activities."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @activity.defn(name="record_audit")
    def record(self, batch: AuditBatch) -> int:
        """Write a batch of audit entries; a retried batch writes nothing twice."""
        return record_entries(self.engine, batch.entries)


def record_entries(
    engine: Engine, entries: list[AuditEntry], flush: str | None = None, written: list[ChainHead] | None = None
) -> int:
    """Write ``entries`` in one transaction (marked by the ``flush`` that writes them, if given)
    and log it; returns how many were new. The write's place in the chain is added to
    ``written``, if given (`infra.audit.write_entries`)."""
    with Session(engine) as session:
        new = write_entries(entries, session=session, flush=flush, written=written)
    if entries:
        log.info(
            "audit_recorded",
            transition_id=entries[0].transition_id,
            entries=len(entries),
            new=new,
            kinds=sorted({e.kind for e in entries}),
        )
    return new


def delivery_id(delivery: Delivery) -> str:
    """The id of a delivery's sent row: its notice's and its channel's."""
    return f"{delivery.notice.id}/{delivery.channel.kind}"


def sent_before(engine: Engine, deliveries: list[Delivery], flush: str | None = None) -> set[str]:
    """The deliveries an earlier try of this flush sent: those whose sent row is stored and
    says what this delivery's would (its time and refused recipients aside), this flush's
    mark included. A row of other content under the id was not written by this flush and
    proves nothing was sent."""
    if not deliveries:
        return set()
    try:
        with Session(engine) as session:
            keys = [audit_uuid(delivery_id(d)) for d in deliveries]
            found = {r.id: r for r in session.exec(select(AuditRecord).where(col(AuditRecord.id).in_(keys))).all()}
    except Exception:  # the database is away: send, as the first try would
        return set()
    sent = set()
    for delivery, key in zip(deliveries, keys):
        if key not in found:
            continue
        # A held delivery's row names those held: the same delivery, whatever it names.
        held = [str(h) for h in (found[key].detail or {}).get("held", [])]
        if says_the_same(found[key], record_of(sent_entry(delivery, {}, held), flush)):
            sent.add(delivery_id(delivery))
        else:
            log.error("delivery_collision", transition_id=delivery.notice.transition_id, event_id=delivery_id(delivery),
                      error=f"a row of other content stands under the delivery's id {delivery_id(delivery)!r}: sending it")  # fmt: skip
    return sent
