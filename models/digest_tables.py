"""What the audit database keeps for daily digests: each person's choice, and the notices held
for their next digest (kept until a digest that carries them is sent, or refused for good by the
mail server, then marked, never deleted)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime
from sqlmodel import Field, SQLModel

REFUSAL_WORDS = 200
"""How much of a mail server's refusal is kept: enough to say why, not a page of its text."""


def _when(nullable: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(DateTime(timezone=True), nullable=nullable)


class DigestPreference(SQLModel, table=True):
    """A person's choice of mail notices: ``each`` or ``daily`` at ``hour`` in ``zone``."""

    __tablename__ = "digest_preference"

    person: str = Field(primary_key=True, max_length=254)
    """The person's address, in lower case."""
    mode: str = Field(max_length=8)
    hour: int
    zone: str = Field(max_length=64)
    changed_at: datetime = Field(sa_column=_when())
    changed_via: str = Field(max_length=16)
    """How the person was signed in when they chose (``web-oidc``, ``web-link``)."""


class HeldNotice(SQLModel, table=True):
    """A mail notice held for a person's digest instead of being mailed at once."""

    __tablename__ = "digest_item"

    id: str = Field(primary_key=True, max_length=64)
    """SHA-256 of the notice's id and the person: holding the same notice again finds this row."""
    person: str = Field(max_length=254, index=True)
    transition_id: str = Field(max_length=250)
    notice_id: str = Field(max_length=400)
    kind: str = Field(max_length=64)
    notice: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    """The notice as the workflow made it (`models.deliveries.Notice`): its words and gate facts."""
    held_at: datetime = Field(sa_column=_when())
    sent_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    """When a digest carrying it was sent; none while it waits."""
    claimed_by: str | None = Field(default=None, max_length=32)
    """The digest run mailing it now (`infra.digests.claim`): no other run mails it meanwhile."""
    claimed_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    """When that run claimed it: a claim older than `models.digests.CLAIM_LEASE` is taken again."""
    refused_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    """When the mail server refused the digest carrying it for good (a 5xx): never tried again."""
    refused_why: str | None = Field(default=None, max_length=REFUSAL_WORDS)
    """The server's answer, its code and its words, cut to `REFUSAL_WORDS` characters."""
