"""What Temporal carries: the workflow's input, the decisions sent to it, and what it reports.

One model in, one model out, for every update and query, so fields can be added later
without breaking running transitions.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from models.plan import Channel, Health, Person, Plan

PersonId = Annotated[str, Field(min_length=1, max_length=254, pattern=r"^[^\s\x00-\x1f]+$")]
GateKey = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
Text = Annotated[str, Field(min_length=1, max_length=2000)]
PeriodLabel = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]*$")]
State = Literal["running", "paused", "completed", "cancelled"]
GateStatusName = Literal["open", "passed", "waived", "rejected"]
STEADY_STATE = "steady_state"


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Decision(_Message):
    by: PersonId
    request_id: str | None = Field(default=None, max_length=100)
    """Makes a retried request count once; the same id again is a repeat."""


class StartTransition(_Message):
    """The workflow's input: the plan and the id it runs under."""

    id: str
    plan: Plan
    state: TransitionState | None = None
    """Carried over by continue-as-new; None for a new transition."""


class Approve(_Decision):
    gate: GateKey
    note: Text | None = None
    evidence: Annotated[str, Field(min_length=1, max_length=500)] | None = None


class Tick(_Decision):
    gate: GateKey
    item: GateKey
    note: Text | None = None


class Reject(_Decision):
    gate: GateKey
    reason: Text


class Waive(_Decision):
    gate: GateKey
    reason: Text


class Pause(_Decision):
    reason: Text


class Resume(_Decision):
    reason: Text | None = None


class Cancel(_Decision):
    reason: Text


class ChangeRoster(_Decision):
    """Add people to the roster (or replace their entry), or take them off it."""

    add: list[Person] = Field(default=[], max_length=50)
    remove: list[PersonId] = Field(default=[], max_length=50)


class RecordReadings(_Message):
    """KPI readings for one reporting period, ``{"csat": 91.0}``."""

    period: PeriodLabel
    values: dict[GateKey, float] = Field(min_length=1, max_length=50)
    by: PersonId | None = None
    request_id: str | None = Field(default=None, max_length=100)

    @field_validator("values")
    @classmethod
    def _finite(cls, values: dict[str, float]) -> dict[str, float]:
        for metric, value in values.items():
            if not math.isfinite(value):
                raise ValueError(f"{metric}: {value} is not a finite number")
            if value < 0:
                raise ValueError(f"{metric}: {value:g} is negative; KPI readings are counts, rates or amounts")
        return values


# --- what the workflow keeps --------------------------------------------------------------


class Signoff(_Message):
    by: str
    at: datetime
    note: str | None = None
    evidence: str | None = None


class GateState(_Message):
    key: str
    kind: str
    status: GateStatusName = "open"
    approvals: dict[str, Signoff] = {}
    ticks: dict[str, Signoff] = {}
    periods: list[str] = []
    """KPI gate: period labels in the order they first arrived."""
    readings: dict[str, dict[str, float]] = {}
    """KPI gate: period label -> metric -> value; a later reading replaces an earlier one."""
    decision: Signoff | None = None
    """Who waived or rejected it, when, and why (in ``note``)."""


class Escalation(_Message):
    phase: str
    attempt: int
    level: int
    at: datetime
    notified: list[str]
    health: Health | None = None


class PhaseRun(_Message):
    """One attempt at one phase (one wave, where it has waves), for timelines."""

    phase: str
    attempt: int
    started_at: datetime
    ended_at: datetime | None = None
    outcome: Literal["passed", "reworked", "cancelled"] | None = None


class Settlement(_Message):
    """One steady-state review period settled: SLA met or missed per KPI, credits and bonuses."""

    period: int
    from_: datetime = Field(alias="from")
    to: datetime
    contract_year: int
    kpis: dict[str, Literal["met", "missed", "no data"]]
    values: dict[str, float] = {}
    credit_percent: float = 0.0
    capped: bool = False
    credit: float = 0.0
    bonus: float = 0.0
    currency: str = "USD"
    breaches: list[str] = []

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)


class Ledger(_Message):
    """Steady state's running book: the period under way and what was settled before it."""

    since: datetime
    active_start: float
    period: int = 1
    period_started_at: datetime
    readings: dict[str, dict[str, float]] = {}
    """Period label -> metric -> value, for readings that arrived in this settlement period."""
    alerted: list[str] = []
    """KPIs whose breach was already alerted in this period."""
    settlements: list[Settlement] = []
    reviews_sent: int = 0


class Decision(_Message):
    kind: str
    phase: str
    gate: str | None = None
    by: str | None = None
    at: datetime
    note: str | None = None


class TransitionState(_Message):
    """Everything the state machine knows about one transition; plain data."""

    id: str
    state: State = "running"
    phase_index: int = 0
    attempt: int = 1
    wave_index: int = 0
    health: Health = "on_track"
    health_raised_by: str | None = None
    reworks: dict[str, int] = {}
    people: list[Person] = []
    gates: list[GateState] = []
    started_at: datetime
    phase_started_at: datetime
    phase_active_start: float = 0.0
    active_seconds: float = 0.0
    clock_at: datetime
    paused_since: datetime | None = None
    paused_seconds: float = 0.0
    pause_reason: str | None = None
    fired: list[int] = []
    escalations: list[Escalation] = []
    phases: list[PhaseRun] = []
    decisions: list[Decision] = []
    seen_requests: list[str] = []
    check_ins_sent: int = 0
    ledger: Ledger | None = None
    runs: int = 1
    """How many workflow runs (continue-as-new) this transition has taken."""
    seq: int = 0
    ended_at: datetime | None = None
    end_reason: str | None = None


# --- what it sends out ---------------------------------------------------------------------


class Recipient(_Message):
    id: str
    name: str
    email: str | None = None


class AuditEntry(_Message):
    """One line of the audit trail; ``id`` is stable so a retried write counts once."""

    id: str
    transition_id: str
    kind: str
    phase: str
    gate: str | None = None
    actor: str | None = None
    at: datetime
    detail: dict[str, Any] = {}


class Notice(_Message):
    """A notification to people; ``id`` is stable so a retried delivery is recognisable."""

    id: str
    transition_id: str
    kind: str
    subject: str
    text: str
    at: datetime
    recipients: list[Recipient] = []
    detail: dict[str, Any] = {}


class AuditBatch(_Message):
    """The audit activity's input: entries written in one transaction."""

    entries: list[AuditEntry]


class Delivery(_Message):
    """The notification activity's input: one notice through one channel."""

    notice: Notice
    channel: Channel


class Outbox(_Message):
    audit: list[AuditEntry] = []
    notices: list[Notice] = []


# --- what it reports ------------------------------------------------------------------------


class GateStatus(_Message):
    key: str
    kind: str
    status: GateStatusName
    progress: str
    waiting_for: list[str] = []


class TransitionStatus(_Message):
    """The answer to ``bpo status``; ``status --json`` prints it as it is."""

    id: str
    name: str
    client: str
    provider: str
    state: State
    phase: str
    phase_name: str
    phase_number: int
    phases_total: int
    health: Health
    wave: int | None = None
    wave_size: float | None = None
    waves: int | None = None
    reworks: int = 0
    gates: list[GateStatus] = []
    escalations: list[Escalation] = []
    started_at: datetime
    phase_started_at: datetime
    phase_due_at: datetime | None = None
    earliest_pass_at: datetime | None = None
    paused_seconds: float = 0.0
    paused_since: datetime | None = None
    pause_reason: str | None = None
    ended_at: datetime | None = None
    end_reason: str | None = None
    history: list[PhaseRun] = []
    decisions: list[Decision] = []
    metrics: list[str] = []
    """The plan's KPI keys: what readings may name."""
    settlements: list[Settlement] = []
    year_to_date: dict[str, float] = {}
    """In steady state: credits and bonuses settled so far in the current contract year."""
    runs: int = 1


class ReadingsBatch(_Message):
    """Several periods' readings recorded together: all of them, or none if any is refused."""

    batches: list[RecordReadings] = Field(min_length=1, max_length=2000)
    request_id: str | None = Field(default=None, max_length=100)


StartTransition.model_rebuild()
