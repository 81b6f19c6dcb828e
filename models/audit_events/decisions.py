"""A person's decisions in the audit trail (`Recorder.decided`): one model per kind."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from models.audit_events.base import Event


class Decision(Event):
    """A person's decision, kept in the decision log too; ``note`` is its note or reason."""

    note: str | None = None


class Pin(BaseModel):
    """What approved evidence was when it was fetched and kept."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    sha256: str
    size: int
    content_type: str | None = None
    stored: str | None = None


class Approved(Decision):
    """A gate approved (``acting_for``: the person a delegate stood in for)."""

    kind: Literal["approved"] = "approved"
    evidence: str | None = None
    repeat: bool = False
    acting_for: str | None = Field(default=None, validation_alias="for")
    pinned: Pin | None = None


class Ticked(Decision):
    """One item of a checklist gate ticked."""

    kind: Literal["ticked"] = "ticked"
    item: str | None = None
    repeat: bool = False


class Scored(Decision):
    """A scorecard gate's criteria scored by one approver."""

    kind: Literal["scored"] = "scored"
    scores: dict[str, float] = {}
    evidence: dict[str, str] = {}
    repeat: bool = False
    acting_for: str | None = Field(default=None, validation_alias="for")


class Rejected(Decision):
    """A gate rejected: rework, or a halt."""

    kind: Literal["rejected"] = "rejected"


class Waived(Decision):
    """A gate passed without its condition."""

    kind: Literal["waived"] = "waived"


class Paused(Decision):
    """Every clock stopped."""

    kind: Literal["paused"] = "paused"


class Resumed(Decision):
    """The clocks started again, rejected gates reopened."""

    kind: Literal["resumed"] = "resumed"
    paused_seconds: float | None = None
    reopened: list[str] = []


class Cancelled(Decision):
    """The transition ended by hand."""

    kind: Literal["cancelled"] = "cancelled"


class Noted(Decision):
    """A free-text note."""

    kind: Literal["noted"] = "noted"


class CostRecorded(Decision):
    """An actual cost recorded by the program office (what it was, in the note)."""

    kind: Literal["cost_recorded"] = "cost_recorded"
    amount: str | None = None
    """The sum as recorded, to the cent (a decimal written as text, never a float)."""
    category: str | None = None
    currency: str | None = None


class Escalated(Decision):
    """An escalation raised by hand."""

    kind: Literal["escalated"] = "escalated"
    level: int | None = None
    open_gates: list[str] = []
    health: str | None = None


class Delegated(Decision):
    """``to`` decides for ``person`` until the end of ``until``."""

    kind: Literal["delegated"] = "delegated"
    person: str | None = None
    to: str | None = None
    until: date | None = None


class DelegationEnded(Decision):
    """A delegation stopped early."""

    kind: Literal["delegation_ended"] = "delegation_ended"
    person: str | None = None


class RosterChanged(Decision):
    """People added to the roster or taken off it."""

    kind: Literal["roster_changed"] = "roster_changed"
    added: list[str] = []
    removed: list[str] = []


class RaidAdded(Decision):
    """An item opened in the RAID log (its title is the note; ``gate``, the gate it blocks)."""

    kind: Literal["raid_added"] = "raid_added"
    item: str | None = None
    item_kind: str | None = Field(default=None, validation_alias="of_kind")


class RaidClosed(Decision):
    """An item of the RAID log closed (how, in the note)."""

    kind: Literal["raid_closed"] = "raid_closed"
    item: str | None = None


class AmendmentProposed(Decision):
    """A new version of the plan proposed, as gate ``amendment_N``."""

    kind: Literal["amendment_proposed"] = "amendment_proposed"
    amendment: int | None = None
    changes: list[str] = []


class AmendmentApproved(Decision):
    """An amendment approved: the transition runs on the new plan from now."""

    kind: Literal["amendment_approved"] = "amendment_approved"


class AmendmentRejected(Decision):
    """An amendment rejected."""

    kind: Literal["amendment_rejected"] = "amendment_rejected"


class NoticesRetried(Decision):
    """Failed notices sent again."""

    kind: Literal["notices_retried"] = "notices_retried"
    notices: list[str] = []


class FeedPullRequested(Decision):
    """A KPI feed asked to pull now."""

    kind: Literal["feed_pull_requested"] = "feed_pull_requested"
    feed: str | None = None
    periods: list[str] = []
