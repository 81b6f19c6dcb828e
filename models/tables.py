"""What the audit database stores: one row per thing that happened to a transition."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index
from sqlmodel import Field, SQLModel

_NAMESPACE = uuid.UUID("6f1c3a52-8d0e-4c57-9a43-2b7d1e0c9f10")


def audit_uuid(event_id: str) -> uuid.UUID:
    """The row key for a stable event id, so writing the same event twice finds the same row."""
    return uuid.uuid5(_NAMESPACE, event_id)


class AuditRecord(SQLModel, table=True):
    """A decision, reading, phase change, escalation or notification, with who and when."""

    __tablename__ = "audit_record"
    __table_args__ = (Index("ix_audit_record_chain", "transition_id", "position", unique=True),)

    id: uuid.UUID = Field(primary_key=True)
    event_id: str = Field(index=True, unique=True, max_length=400)
    transition_id: str = Field(index=True, max_length=250)
    kind: str = Field(index=True, max_length=64)
    phase: str = Field(max_length=64)
    gate: str | None = Field(default=None, max_length=64)
    actor: str | None = Field(default=None, max_length=254)
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    recorded_at: datetime = Field(
        default_factory=lambda: datetime.now(UTC),
        sa_column=Column(DateTime(timezone=True), nullable=False),
    )
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    via: str | None = Field(default=None, max_length=16)
    """How the actor was known: web-oidc, web-link, cli or api."""
    signature: str | None = Field(default=None, max_length=200)
    """The signed command's signature; ``detail["signed"]`` holds what it covers."""
    position: int | None = Field(default=None)
    """Place in the transition's hash chain, from 1."""
    prev_hash: str | None = Field(default=None, max_length=64)
    hash: str | None = Field(default=None, max_length=64)
    """SHA-256 over the canonical row, ``prev_hash`` and ``position`` included."""


class AuditHead(SQLModel, table=True):
    """The last link of each transition's hash chain: where the next row attaches."""

    __tablename__ = "audit_head"

    transition_id: str = Field(primary_key=True, max_length=250)
    position: int
    hash: str = Field(max_length=64)


class EvidenceCheck(SQLModel, table=True):
    """The last check of one pinned evidence: whether what its URL (or the evidence store) holds
    now still hashes to what was approved, and when that was found. Written when the evidence is
    pinned and by ``bpo evidence --verify``; the web app and the report read it and never fetch."""

    __tablename__ = "evidence_check"

    id: uuid.UUID = Field(primary_key=True)
    """From the transition, the evidence as named and its pinned hash (`evidence_check_key`)."""
    transition_id: str = Field(index=True, max_length=250)
    sha256: str = Field(max_length=64)
    """The hash that was approved."""
    verdict: str = Field(max_length=16)
    """``unchanged``, ``changed`` or ``unreachable``."""
    now_sha256: str | None = Field(default=None, max_length=64)
    now_size: int | None = Field(default=None)
    problem: str | None = Field(default=None, max_length=500)
    """Why it could not be fetched, in our words."""
    checked_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


def evidence_check_key(transition_id: str, evidence: str, sha256: str) -> uuid.UUID:
    """The key of the check of ``evidence`` pinned at ``sha256`` in a transition (the URL itself,
    which may carry a token, is not stored twice)."""
    return uuid.uuid5(_NAMESPACE, f"evidence\n{transition_id}\n{evidence}\n{sha256}")
