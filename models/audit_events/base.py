"""What every typed audit event has: the row's own columns, and what a command's row adds to
its detail; `Unknown` for a kind this code does not know."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict


class Row(Protocol):
    """What `event_of` reads: an `models.tables.AuditRecord`, or an `models.deliveries.AuditEntry`."""

    @property
    def kind(self) -> str: ...  # noqa: D102
    @property
    def transition_id(self) -> str: ...  # noqa: D102
    @property
    def phase(self) -> str: ...  # noqa: D102
    @property
    def gate(self) -> str | None: ...  # noqa: D102
    @property
    def actor(self) -> str | None: ...  # noqa: D102
    @property
    def at(self) -> datetime: ...  # noqa: D102
    @property
    def via(self) -> str | None: ...  # noqa: D102
    @property
    def detail(self) -> dict[str, Any]: ...  # noqa: D102


class Event(BaseModel):
    """One row of the audit trail: what every kind has (the row's own columns), and what a
    command's row adds to its detail (who operated it, what its signature covers)."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    kind: str
    transition_id: str = ""
    at: datetime
    phase: str = ""
    gate: str | None = None
    actor: str | None = None
    via: str | None = None
    """How the actor was known: web-oidc, web-link, cli, api; ``feed`` for a feed's readings."""
    operator: str | None = None
    signed: dict[str, Any] | None = None
    """What the row's signature covers (`infra.chain` checks it)."""


class Unknown(Event):
    """A row of a kind this code does not know (written by newer code, or retired): its detail as stored."""

    detail: dict[str, Any] = {}
