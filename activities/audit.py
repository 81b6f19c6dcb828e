"""The audit activity: a thin adapter over the audit repository (`infra.audit`)."""

from __future__ import annotations

import structlog
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio import activity

from infra.audit import write_entries
from models.deliveries import AuditBatch, AuditEntry, ChainHead

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
