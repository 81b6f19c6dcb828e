"""Activities that touch the audit database."""

from __future__ import annotations

from datetime import UTC

import structlog
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio import activity

from models.messages import AuditBatch, AuditEntry
from models.tables import AuditRecord, audit_uuid

log = structlog.get_logger(__name__)


def write_entries(entries: list[AuditEntry], *, session: Session) -> int:
    """Insert the entries not yet stored (by stable id); returns how many were new."""
    ids = [audit_uuid(e.id) for e in entries]
    stored = set(session.exec(select(AuditRecord.id).where(col(AuditRecord.id).in_(ids))).all())
    fresh = [e for e, key in zip(entries, ids) if key not in stored]
    for entry in fresh:
        session.add(
            AuditRecord(
                id=audit_uuid(entry.id),
                event_id=entry.id,
                transition_id=entry.transition_id,
                kind=entry.kind,
                phase=entry.phase,
                gate=entry.gate,
                actor=entry.actor,
                at=entry.at,
                detail=entry.model_dump(mode="json")["detail"],
            )
        )
    session.commit()
    return len(fresh)


def read_trail(transition_id: str, *, session: Session) -> list[AuditRecord]:
    """Every audit record of one transition, oldest first."""
    rows = session.exec(
        select(AuditRecord).where(AuditRecord.transition_id == transition_id).order_by(col(AuditRecord.at))
    ).all()
    for row in rows:
        if row.at.tzinfo is None:  # SQLite keeps no zone; every time stored is UTC
            row.at = row.at.replace(tzinfo=UTC)
    return sorted(rows, key=lambda r: (r.at, _seq(r.event_id, transition_id)))


def _seq(event_id: str, transition_id: str) -> int:
    # Event ids are "<transition>/<seq>" or, for a delivery, "<transition>/<seq>/<channel>".
    head = event_id[len(transition_id) + 1 :].split("/", 1)[0]
    return int(head) if head.isdigit() else 0


class AuditActivities:
    """Holds the database engine; its bound methods are the registered activities."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @activity.defn(name="record_audit")
    def record(self, batch: AuditBatch) -> int:
        """Write a batch of audit entries; a retried batch writes nothing twice."""
        with Session(self.engine) as session:
            new = write_entries(batch.entries, session=session)
        if batch.entries:
            log.info(
                "audit_recorded",
                transition_id=batch.entries[0].transition_id,
                entries=len(batch.entries),
                new=new,
                kinds=sorted({e.kind for e in batch.entries}),
            )
        return new
