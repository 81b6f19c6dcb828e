"""What the web app keeps beside the audit trail: sign-in sessions, single-use links, API tokens,
Slack users linked to people, and the names of the plans it lists. Every secret is stored as its
SHA-256 only, so the database never holds one that works."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, DateTime, Text
from sqlmodel import Field, SQLModel


def _when(nullable: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(DateTime(timezone=True), nullable=nullable)


class WebSession(SQLModel, table=True):
    """A person signed in to the web app: by which way, until when, with which form token."""

    __tablename__ = "web_session"

    id: str = Field(primary_key=True, max_length=64)
    """SHA-256 of the cookie's value."""
    person: str = Field(max_length=254, index=True)
    via: str = Field(max_length=16)
    issuer: str | None = Field(default=None, max_length=500)
    subject: str | None = Field(default=None, max_length=254)
    csrf: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=_when())
    expires_at: datetime = Field(sa_column=_when())
    groups: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    """The identity provider's groups for the person at sign-in, a JSON list (OIDC sessions only)."""


class SignInLink(SQLModel, table=True):
    """A single-use sign-in link sent to an address; ``used_at`` set once it was opened."""

    __tablename__ = "signin_link"

    id: str = Field(primary_key=True, max_length=64)
    """SHA-256 of the link's token."""
    address: str = Field(max_length=254, index=True)
    next_path: str = Field(default="/", max_length=500)
    created_at: datetime = Field(sa_column=_when())
    expires_at: datetime = Field(sa_column=_when())
    used_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))


class ApiToken(SQLModel, table=True):
    """A personal API token: shown once to its owner, kept here by its hash."""

    __tablename__ = "api_token"

    id: str = Field(primary_key=True, max_length=64)
    owner: str = Field(max_length=254, index=True)
    name: str = Field(max_length=100)
    created_at: datetime = Field(sa_column=_when())
    last_used_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    scope: str = Field(default="decide", max_length=16)
    """``read`` (status, inbox) or ``decide`` (also decisions and readings)."""
    expires_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    """When the token stops working (``BPO_API_TOKEN_TTL`` after it was made); none: expired."""


class SlackLink(SQLModel, table=True):
    """A Slack user bound to a person: their presses in Slack decide as that person. A row is
    kept when the link is undone (``unlinked_at``), so who was linked when stays on record."""

    __tablename__ = "slack_link"

    id: str = Field(primary_key=True, max_length=36)
    team: str = Field(max_length=32, index=True)
    user: str = Field(max_length=32, index=True)
    person: str = Field(max_length=254, index=True)
    """The roster id (address) the Slack user acts as."""
    linked_at: datetime = Field(sa_column=_when())
    linked_via: str = Field(max_length=16)
    """How the person was signed in when they linked (``web-oidc``, ``web-link``)."""
    unlinked_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))


class SlackLinkToken(SQLModel, table=True):
    """A one-time link offered in Slack to an unlinked user: whoever opens it signed in binds that
    Slack user to themselves. Kept by its hash; ``used_at`` set once it was used."""

    __tablename__ = "slack_link_token"

    id: str = Field(primary_key=True, max_length=64)
    """SHA-256 of the link's token."""
    team: str = Field(max_length=32)
    user: str = Field(max_length=32)
    created_at: datetime = Field(sa_column=_when())
    expires_at: datetime = Field(sa_column=_when())
    used_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))


class KeptPlanNames(SQLModel, table=True):
    """A transition's phase and gate names as last read from its plan (`bpo.web.plan_names`):
    the inbox's names after a restart of the web app, without asking Temporal for every plan."""

    __tablename__ = "plan_names"

    transition_id: str = Field(primary_key=True, max_length=250)
    """A transition's id, a workstream's (``PROGRAM/KEY``, up to 241 characters) among them."""
    first_run: str = Field(default="", max_length=64)
    """The first run of the transition the names were read from: another one started later
    under the same id (an ended one's) has names of its own."""
    phases: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    gates: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    read_at: datetime = Field(sa_column=_when())
