"""The audit activity: a thin adapter over the audit repository (`infra.audit`)."""

from __future__ import annotations

from sqlalchemy import Engine
from temporalio import activity

from infra.audit import record_entries
from models.deliveries import AuditBatch


class AuditActivities:
    """Holds the database engine; its bound methods are the registered activities."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @activity.defn(name="record_audit")
    def record(self, batch: AuditBatch) -> int:
        """Write a batch of audit entries; a retried batch writes nothing twice."""
        return record_entries(self.engine, batch.entries)
