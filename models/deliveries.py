"""What the outbox carries: audit entries, notices and their deliveries through each channel,
what a flush hands the activity and what it answers (the audit chain's head among it)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field

from models.base import Message
from models.plan import Channel


class ChainHead(Message):
    """The head of a transition's audit chain: its last row's position and hash. The outbox flush
    answers with it, so Temporal's history holds it outside the audit database (the anchor
    `bpo audit --verify` holds the table against)."""

    position: int = Field(ge=0)
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    since: int | None = Field(default=None, ge=0)
    """Where the chain stood when the flush that wrote up to here began (its own rows of an
    earlier try aside): rows between one flush's head and the next one's ``since`` were written
    by something other than the transition."""


class Recipient(Message):
    """Someone a notice goes to."""

    id: str
    name: str
    email: str | None = None


class AuditEntry(Message):
    """One line of the audit trail; ``id`` is stable so a retried write counts once."""

    id: str
    transition_id: str
    kind: str
    phase: str
    gate: str | None = None
    actor: str | None = None
    at: datetime
    detail: dict[str, Any] = {}
    via: str | None = None
    """How the actor was known, for a command (`models.commands.Via`)."""
    signature: str | None = None
    """The command's signature, kept so anyone can check the sign-off later."""


class Notice(Message):
    """A notification to people; ``id`` is stable so a retried delivery is recognisable."""

    id: str
    transition_id: str
    kind: str
    subject: str
    text: str
    at: datetime
    recipients: list[Recipient] = []
    detail: dict[str, Any] = {}


class AuditBatch(Message):
    """The audit activity's input: entries written in one transaction."""

    entries: list[AuditEntry]


class Delivery(Message):
    """The notification activity's input: one notice through one channel."""

    notice: Notice
    channel: Channel
    client: str | None = None
    """The plan's client: whether the connection a channel names is open to it."""


def delivery_id(delivery: Delivery) -> str:
    """The id of a delivery's sent row: its notice's and its channel's."""
    return f"{delivery.notice.id}/{delivery.channel.kind}"


def sent_entry(delivery: Delivery, refused: dict[str, str], held: Sequence[str] = ()) -> AuditEntry:
    """The audit row of a notice delivered through a channel; its id is the delivery's. It is
    ``deferred_to_digest`` when every recipient with an address had it held for their digest,
    else ``notification_sent``, naming in ``held`` those whose copy waits for their digest."""
    notice, channel = delivery.notice, delivery.channel
    mailed = {r.id for r in notice.recipients if r.email}
    deferred = bool(held) and mailed <= set(held)
    return AuditEntry(
        id=delivery_id(delivery),
        transition_id=notice.transition_id,
        kind="deferred_to_digest" if deferred else "notification_sent",
        phase=str(notice.detail.get("phase", "")),
        at=datetime.now(UTC),
        detail={
            "notice": notice.id,
            "channel": channel.kind,
            "about": notice.kind,
            "subject": notice.subject,
            "recipients": [r.id for r in notice.recipients],
            **({"refused": refused} if refused else {}),
            **({"held": sorted(held)} if held else {}),
        },
    )


class Pending(Message):
    """A delivery waiting for its next try (or, in ``failed``, one given up)."""

    delivery: Delivery
    attempts: int = 0
    since: datetime
    """Its first try."""
    next_at: datetime
    error: str | None = None
    """What the last try met."""


class DeliveryOutcome(Message):
    """What one delivery of a flush came to."""

    status: Literal["sent", "skipped", "retry", "failed"]
    error: str | None = None
    entry: AuditEntry | None = None
    """For a notice sent that the activity could not audit (the database was down): the row the
    workflow writes instead."""


class Flush(Message):
    """The outbox activity's input: audit entries to write, then deliveries to make."""

    audit: list[AuditEntry] = []
    deliveries: list[Delivery] = []
    nonce: str | None = None
    """A value the workflow made for this flush (the same when its workflow task runs again).
    Its presence says the flush marks its rows (`infra.audit.flush_mark`), so that a row it finds
    under one of its ids is an earlier try only if it carries the mark; the mark itself is keyed
    with the workers' secret, not with this value (`activities.outbox`), so a task run again in
    another order marks alike. None in runs from before the change ``flush-marked``."""


class Flushed(Message):
    """The outbox activity's answer: one outcome per delivery, in order, and how long this worker
    keeps trying a delivery before it is given up (``BPO_DELIVERY_GIVE_UP``)."""

    outcomes: list[DeliveryOutcome] = []
    audit_error: str | None = None
    """Why the audit entries could not be written; the workflow keeps them and tries again."""
    give_up_seconds: float = 86400.0
    audit_head: ChainHead | None = None
    """The transition's audit chain head after this flush's writes; none when it could not be read."""
    writes: list[ChainHead] = []
    """Each write of this flush, as its own transaction left the chain (``since``: where the chain
    stood in that transaction, before it chained its rows): rows chained between two writes, or
    between the last flush and this one's first, were not the transition's, even when the
    flush's ``audit_head`` is read after them. Empty in flushes before this field existed."""
    collisions: list[str] = []
    """Why each delivery's sent row (or a log line's) this flush wrote was refused for a collision:
    the flush's entries were written, and the refused rows come back in their outcomes for a
    later flush; `bpo audit --verify` names each, even once the row in the way is gone."""


class Deliveries(Message):
    """The ``deliveries`` query's answer: what waits for another try and what was given up."""

    pending: list[Pending] = []
    failed: list[Pending] = []
    unwritten: int = 0
    """Audit entries the workflow holds that are not yet in the audit table."""


class Outbox(Message):
    """What the rules asked for and the workflow has yet to carry out."""

    audit: list[AuditEntry] = []
    notices: list[Notice] = []
