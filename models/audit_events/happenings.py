"""What the transition records by itself, and the readings it is given: one model per kind."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from models.audit_events.base import Event


class Readings(Event):
    """One period's KPI readings; from a feed (``via`` ``feed``), its name and the document's hash."""

    period: str = ""
    values: dict[str, float] = {}
    feed: str | None = None
    sha256: str | None = None


class KpiReading(Readings):
    """Readings recorded."""

    kind: Literal["kpi_reading"] = "kpi_reading"


class KpiCorrected(Readings):
    """Readings corrected: ``was`` what they replace (and who had recorded it), and why."""

    kind: Literal["kpi_corrected"] = "kpi_corrected"
    was: dict[str, float] = {}
    was_by: dict[str, str | None] = {}
    reason: str | None = None
    settled: list[str] = []
    """Metrics a settlement already sent had counted, which stands."""


class FeedReadingDiffers(Event):
    """A feed read other values than those standing for a period; the standing ones are kept."""

    kind: Literal["feed_reading_differs"] = "feed_reading_differs"
    feed: str | None = None
    period: str = ""
    values: dict[str, float] = {}
    standing: dict[str, float] = {}


class FeedNoData(Event):
    """A feed had nothing for a period that is due."""

    kind: Literal["feed_no_data"] = "feed_no_data"
    feed: str | None = None
    period: str = ""
    metrics: list[str] = []
    reason: str | None = None


class TransitionStarted(Event):
    """The first row: the plan, and the keys the transition trusts from the start."""

    kind: Literal["transition_started"] = "transition_started"
    plan: str | None = None
    trusted_keys: list[str] = []
    started_by: str | None = None


class PhaseStarted(Event):
    """A phase began (again, on rework: ``attempt``)."""

    kind: Literal["phase_started"] = "phase_started"
    attempt: int | None = None
    name: str | None = None


class PhasePassed(Event):
    """A phase passed."""

    kind: Literal["phase_passed"] = "phase_passed"
    attempt: int | None = None


class WaveStarted(Event):
    """A wave of a phase in waves began: its number, and its share of the work in percent."""

    kind: Literal["wave_started"] = "wave_started"
    wave: int | None = None
    size: float | None = None


class GatePassed(Event):
    """A gate passed."""

    kind: Literal["gate_passed"] = "gate_passed"
    gate_kind: str | None = Field(default=None, validation_alias="of_kind")


class Halted(Event):
    """A rejection past the rework limit stopped the clocks."""

    kind: Literal["halted"] = "halted"
    reason: str | None = None


class Escalation(Event):
    """A phase (or, with ``gate``, one gate) ran past its due date: a level of its ladder fired."""

    kind: Literal["escalation"] = "escalation"
    level: int | None = None
    late_by: str | None = None
    health: str | None = None
    open_gates: list[str] = []


class DeadlineWarning(Event):
    """A due date comes near."""

    kind: Literal["deadline_warning"] = "deadline_warning"
    gates: list[str] = []
    due_at: datetime | None = None
    left: str | None = None


class RaidEscalated(Event):
    """A RAID item escalated (a critical issue raised, or an action overdue)."""

    kind: Literal["raid_escalated"] = "raid_escalated"
    item: str | None = None
    item_kind: str | None = Field(default=None, validation_alias="of_kind")
    severity: str | None = None
    health: str | None = None


class SlaBreach(Event):
    """A reading missed its KPI's SLA; ``label`` the reading's period, ``period`` the settlement period's number."""

    kind: Literal["sla_breach"] = "sla_breach"
    kpi: str | None = None
    value: float | None = None
    sla: float | None = None
    label: str | None = None
    period: int | None = None


class ObjectiveMissed(Event):
    """A business objective missed its target."""

    kind: Literal["objective_missed"] = "objective_missed"
    objective: str | None = None
    target: float | None = None
    value: float | None = None
    state: str | None = None


class Settled(Event):
    """A steady-state period settled (`models.messages.Settlement` as written)."""

    kind: Literal["settlement"] = "settlement"
    period: int | None = None
    from_: datetime | None = Field(default=None, validation_alias="from")
    to: datetime | None = None
    contract_year: int | None = None
    kpis: dict[str, str] = {}
    values: dict[str, float] = {}
    credit_percent: float = 0.0
    capped: bool = False
    credit: float = 0.0
    bonus: float = 0.0
    currency: str = "USD"
    delegations: list[dict[str, Any]] = []
    breaches: list[str] = []


class BusinessReviewDue(Event):
    """A quarterly business review is due: its number, and the quarter's summary."""

    kind: Literal["business_review_due"] = "business_review_due"
    review: int | None = None
    summary: str | None = None


class TransitionCompleted(Event):
    """The transition finished its last phase."""

    kind: Literal["transition_completed"] = "transition_completed"


class EvidenceCheck(Event):
    """Pinned evidence looked at again (``gate``: the gate it was approved on)."""

    approver: str | None = None
    evidence: str | None = None
    sha256: str | None = None
    approved_in: str | None = None


class EvidenceChanged(EvidenceCheck):
    """Pinned evidence no longer hashes to what was approved."""

    kind: Literal["evidence_changed"] = "evidence_changed"


class EvidenceUnreachable(EvidenceCheck):
    """Pinned evidence could not be fetched again."""

    kind: Literal["evidence_unreachable"] = "evidence_unreachable"


class KeysRotated(Event):
    """Keys the transition trusts added or removed (fingerprints; ``trusted_keys`` the keys themselves)."""

    kind: Literal["keys_rotated"] = "keys_rotated"
    added: list[str] = []
    removed: list[str] = []
    trusted: list[str] = []
    trusted_keys: list[str] = []


class SignalRefused(Event):
    """A command sent as a signal was refused: its update name, the refusal and its kind."""

    kind: Literal["signal_refused"] = "signal_refused"
    command: str | None = None
    reason: str | None = None
    refusal: str | None = None


class Delivery(Event):
    """A notice delivered (or not) through one channel; ``about`` is the notice's kind."""

    notice: str | None = None
    channel: str | None = None
    about: str | None = None
    subject: str | None = None
    recipients: list[str] = []


class NotificationSent(Delivery):
    """A notice delivered; ``refused`` the recipients the channel would not take, and why."""

    kind: Literal["notification_sent"] = "notification_sent"
    refused: dict[str, str] = {}
    held: list[str] = []
    """The recipients whose copy was held for their daily digest instead (`models.digests`)."""


class DeferredToDigest(Delivery):
    """A notice mailed to no one at once: every recipient chose a daily digest, which carries it."""

    kind: Literal["deferred_to_digest"] = "deferred_to_digest"
    held: list[str] = []


class NotificationFailed(Delivery):
    """A notice that could not be delivered."""

    kind: Literal["notification_failed"] = "notification_failed"
    error: str | None = None
