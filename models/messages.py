"""What Temporal carries besides the commands: the workflow's input, its state, what it reports.

One model in, one model out, for every update and query, so fields can be added later
without breaking running transitions. The commands themselves live in `models.commands`, the
command table.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import ConfigDict, Field, field_validator

from models.base import Message
from models.deliveries import AuditEntry, ChainHead, Pending
from models.evidence import EvidencePin, EvidenceWatch
from models.feeds import FeedState
from models.plan import Person, Plan
from models.plan_words import Health
from models.program import ProgramLink, Relayed, SentRelay, Workstream

State = Literal["running", "paused", "completed", "cancelled"]
GateStatusName = Literal["open", "passed", "waived", "rejected"]
STEADY_STATE = "steady_state"


class StartTransition(Message):
    """The workflow's input: the plan and the id it runs under."""

    id: str
    plan: Plan
    state: TransitionState | None = None
    """Carried over by continue-as-new; None for a new transition."""
    trusted_keys: list[str] = Field(default=[], max_length=20)
    """Public keys (base64 Ed25519) whose signature every command must carry; none: unsigned."""
    started_by: str | None = Field(default=None, max_length=254, pattern=r"^[^\x00-\x1f]+$")
    """Who starts it: the operator at the command line, the web app's user."""
    signed_at: datetime | None = None
    signature: str | None = Field(default=None, max_length=200)
    """Ed25519 over the start's canonical form (`models.signing.start_canonical`) by one of the
    ``trusted_keys``; required when there are any."""
    flush_after: timedelta | None = Field(default=None, ge=timedelta(0), le=timedelta(seconds=5))
    """How long a decision's audit entries and notices wait for others to join them, so that the
    decision is answered before they are written (`BPO_FLUSH_AFTER_MS`). None or zero: they are
    written in the decision's own workflow task, and its answer waits for them."""
    audit_linger: timedelta | None = Field(default=None, ge=timedelta(0), le=timedelta(seconds=60))
    """How long audit entries with no notice among them may wait for others before they are
    written (`BPO_AUDIT_LINGER_MS`), counted from the decision that made the first: a notice, a
    reader of the trail (`bpo audit`, the web app) or the run's end sends them at once. None or
    no longer than ``flush_after``: they go with the held flush, as notices do."""
    program: ProgramLink | None = None
    """A workstream's program, set by the program that starts it (`workflows.program`)."""

    @field_validator("trusted_keys")
    @classmethod
    def _keys(cls, keys: list[str]) -> list[str]:
        from models.keys import public_key  # only where keys are given: `bpo status` loads no crypto

        for key in keys:
            public_key(key, canonical=True)  # a ValueError that says what is wrong with it
        return [k.strip() for k in keys]  # as a rotation names them, so `--remove` finds each


# --- what the workflow keeps --------------------------------------------------------------


class Signoff(Message):
    """Who signed, when, with what note and evidence."""

    by: str
    at: datetime
    note: str | None = None
    evidence: str | None = None
    pin: EvidencePin | None = None
    """The evidence's hash and size when it was approved, if it was fetched and kept."""


class GateState(Message):
    """A gate of the phase under way: its status and every sign-off, tick and reading toward it."""

    key: str
    kind: str
    status: GateStatusName = "open"
    approvals: dict[str, Signoff] = {}
    ticks: dict[str, Signoff] = {}
    periods: list[str] = []
    """KPI gate: period labels in the order they first arrived."""
    readings: dict[str, dict[str, float]] = {}
    """KPI gate: period label -> metric -> value; a later reading replaces an earlier one."""
    scores: dict[str, dict[str, float]] = {}
    """Scorecard gate: approver -> criterion -> score; a later scoring replaces an earlier one.
    Apart from ``readings`` so that a score is never read as a KPI reading."""
    decision: Signoff | None = None
    """Who waived or rejected it, when, and why (in ``note``)."""
    eligible: list[str] | None = None
    """Approval gate with ``rule: all``: the people who must approve, fixed when it opened."""
    asked: list[str] = []
    """The people asked to decide it since it opened (one request each)."""
    opened_active: float | None = None
    """The transition's unpaused seconds when the gate opened: reminders count from there."""
    opened_business: float | None = None
    """The working seconds of the plan's calendar when it opened: business durations count from there."""
    reminded: int = 0
    """Reminders sent since it opened."""
    warned: bool = False
    """Whether its ``warn_at`` warning went out in this attempt."""
    fired: list[int] = []
    """The levels of its own ladder (past its own ``due``) fired in this attempt."""


class Amendment(Message):
    """A new version of the plan, proposed as ``amendment_N`` and decided by a sponsor."""

    number: int
    plan: Plan | None = None
    """The proposed version, while it waits for its decision."""
    by: str
    reason: str
    at: datetime
    changes: list[str] = []
    status: Literal["proposed", "approved", "rejected"] = "proposed"
    decided_by: str | None = None
    decided_at: datetime | None = None


class RaidItem(Message):
    """One item of the RAID log: what it is, whose it is, what it holds, how it was closed."""

    id: str
    kind: Literal["risk", "action", "issue", "decision"]
    title: str
    owner: str
    due: date | None = None
    severity: Literal["low", "medium", "high", "critical"] = "medium"
    blocks: str | None = None
    opened_by: str
    opened_at: datetime
    closed_by: str | None = None
    closed_at: datetime | None = None
    note: str | None = None
    reminded: bool = False
    escalated: bool = False


class Cost(Message):
    """An actual cost of the transition the program office recorded (`bpo cost`)."""

    amount: Decimal
    category: str
    note: str
    by: str
    at: datetime


class Delegation(Message):
    """``to`` decides whatever ``person`` may, from ``at`` to the end of ``until`` (UTC)."""

    person: str
    to: str
    until: date
    by: str
    at: datetime
    ended_at: datetime | None = None


class Escalation(Message):
    """One step of the ladder that fired: the phase, attempt, level, when and whom it told."""

    phase: str
    attempt: int
    level: int
    at: datetime
    notified: list[str]
    health: Health | None = None
    gate: str | None = None
    """The gate whose own due passed; None for the phase's."""


class PhaseRun(Message):
    """One attempt at one phase (one wave, where it has waves), for timelines."""

    phase: str
    attempt: int
    started_at: datetime
    ended_at: datetime | None = None
    outcome: Literal["passed", "reworked", "cancelled"] | None = None


class Settlement(Message):
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
    delegations: list[Delegation] = []
    breaches: list[str] = []

    model_config = ConfigDict(extra="ignore", populate_by_name=True, serialize_by_alias=True)


class Ledger(Message):
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


class Standing(Message):
    """A reading that stands for one metric and period label: its value and who recorded it."""

    value: float
    by: str | None = None
    """The reporter's id; for a feed's reading, ``feed <name>``."""


class Decision(Message):
    """One person's decision, as the decision log keeps it."""

    kind: str
    phase: str
    gate: str | None = None
    by: str | None = None
    at: datetime
    note: str | None = None
    via: str | None = None


class TransitionState(Message):
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
    phase_business_start: float = 0.0
    active_seconds: float = 0.0
    business_seconds: float = 0.0
    """Unpaused working seconds of the plan's calendar up to ``clock_at``; zero without one."""
    clock_at: datetime
    paused_since: datetime | None = None
    paused_seconds: float = 0.0
    pause_reason: str | None = None
    fired: list[int] = []
    warned: bool = False
    """Whether the phase's ``warn_at`` warning went out in this attempt."""
    escalations: list[Escalation] = []
    phases: list[PhaseRun] = []
    decisions: list[Decision] = []
    seen_requests: list[str] = []
    check_ins_sent: int = 0
    ledger: Ledger | None = None
    runs: int = 1
    """How many workflow runs (continue-as-new) this transition has taken."""
    seq: int = 0
    run_key: str | None = None
    """Part of every audit and notice id: the first run's id, so a transition started again under
    an ended one's id never collides with the old rows."""
    trusted_keys: list[str] = []
    """Public keys whose signature every command must carry; empty: commands go unsigned."""
    started_by: str | None = None
    """Who started the transition (the operator, or the web app's user), as the start said."""
    first_run_id: str | None = None
    """The run family: the first run's id, the same across continue-as-new and new when the id
    is started again; every signature covers it."""
    requests: dict[str, datetime] = {}
    """Request id -> when it was applied (or signed, if later): kept for
    `workflows.rules.replays.REMEMBER` whatever the number of commands between."""
    refused_requests: dict[str, datetime] = {}
    """Request id -> when a validly signed command carrying it was refused: a command carrying
    it again is refused, so a refused command's record is never sent again to pass later."""
    forgotten_before: datetime | None = None
    """The newest time of a request id dropped from ``requests``: a command signed at or before
    it cannot be told from a repeat, and is refused."""
    pending: list[Pending] = []
    """Deliveries waiting for another try: carried across continue-as-new, so none is dropped."""
    trying: list[Pending] = []
    """Deliveries being tried now (taken from ``pending``), until their outcome is settled."""
    failed: list[Pending] = []
    """Deliveries given up, newest last, for ``bpo notices --failed`` and ``--retry``."""
    raid: list[RaidItem] = []
    """The RAID log, oldest first."""
    amendments: list[Amendment] = []
    """Every version proposed since the start, and how each was decided."""
    latest: dict[str, float] = {}
    """The latest reading of each KPI, whatever the phase: what objectives are measured by."""
    standing: dict[str, dict[str, Standing]] = {}
    """Period label -> metric -> the reading that stands, whatever the phase (steady state
    included): what a second reading for the same period is checked against, and what a
    correction replaces. The last ``MAX_STANDING_PERIODS`` labels (`workflows.rules.readings`),
    oldest first; older ones stay in the audit trail, and in ``stood``."""
    stood: list[str] = []
    """A short digest of each (period, metric) whose label left ``standing``: such a reading still
    stands, though its value is only in the audit trail."""
    objectives_told: list[str] = []
    """Objectives whose due date passed (and whose sponsors were told if unmet)."""
    unwritten: list[AuditEntry] = []
    """Audit entries the database did not take yet; written with the next flush."""
    audit_attempts: int = 0
    audit_retry_at: datetime | None = None
    delegations: list[Delegation] = []
    breaches: list[str] = []
    """``kpi#period`` of every SLA breach alerted during the phases (once each)."""
    ended_at: datetime | None = None
    end_reason: str | None = None
    feeds: dict[str, FeedState] = {}
    """Each KPI feed's schedule: the next period to pull, the pull under way, periods missing."""
    evidence_watch: EvidenceWatch | None = None
    """The evidence approvals pinned, checked again while the transition runs (None until one is)."""
    audit_head: ChainHead | None = None
    """The audit chain's head after the latest flush: carried across continue-as-new, so the
    newest run's input holds it even when earlier runs' histories are gone."""
    program: ProgramLink | None = None
    """A workstream's program: it reports there, and takes the program's relayed commands."""
    reported: int = 0
    """A workstream's reports sent to its program (the newest one's ``seq``)."""
    program_paused: bool = False
    """A workstream paused by its program's relayed pause: only a relayed resume ends it, and a
    workstream paused on its own stays paused when the program resumes."""
    workstreams: dict[str, Workstream] = {}
    """A program's workstreams by key, once it entered the phase that starts them."""
    costs: list[Cost] = []
    """The latest costs recorded, oldest first (``MAX_COSTS`` of them; every one is audited)."""
    cost_totals: dict[str, Decimal] = {}
    """Every cost ever recorded, summed by category: what the value realized is netted of."""
    relays: list[Relayed] = []
    """A program's commands still to be sent on to its running workstreams."""
    reads: list[str] = []
    """A program's workstreams that said they changed, to be read from Temporal."""
    relays_sent: list[SentRelay] = []
    """A program's relays of the last `RELAYS_KEPT` (at most `MAX_RELAYS_KEPT`), by request id and
    the workstreams they went to: what its workstreams confirm a relay against."""
    relays_in: list[Relayed] = []
    """A workstream's relays received, waiting for its program to confirm it sent them."""
    relays_decided: dict[str, datetime] = {}
    """A workstream's relays it took a decision on (applied, left as they were, or refused), by
    their key as its program records it (`models.program.relay_key`) -> when: a copy sent later
    is refused as a repeat (`workflows.rules.program`)."""


# --- what it sends out ---------------------------------------------------------------------


TransitionState.model_rebuild()
StartTransition.model_rebuild()
