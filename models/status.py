"""What a transition reports: `bpo status`, update answers, the web app and the reports read it.

Plain data built from the state by `workflows.rules.status`; ``status --json`` prints
`TransitionStatus` as it is.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from models.base import Message
from models.deliveries import ChainHead
from models.feeds import FeedState
from models.messages import (
    Amendment,
    Decision,
    Delegation,
    Escalation,
    GateStatusName,
    PhaseRun,
    RaidItem,
    Settlement,
    State,
)
from models.plan_words import Health
from models.value import ValueStatus


class ObjectiveStatus(Message):
    """An objective against its KPI: the target, the latest value, and where it stands."""

    key: str
    statement: str
    kpi: str | None = None
    target: float | None = None
    value: float | None = None
    due: date | None = None
    state: Literal["met", "on track", "missed", "no data"]
    baseline: float | None = None
    """Where the in-house operation stood: the objective's ``baseline``, else its KPI's."""


class GateStatus(Message):
    """A gate as a person reads it: status, progress, whom or what it waits for."""

    key: str
    kind: str
    status: GateStatusName
    progress: str
    waiting_for: list[str] = []
    due_at: datetime | None = None
    """Its own due, where it has one and is open."""
    blocked_by: list[str] = []
    """Open RAID items that hold it (``A-2``), whatever its sign-offs."""


class WorkstreamStatus(Message):
    """One workstream of a program, as the program's status lists it."""

    key: str
    id: str
    name: str
    state: str
    """``waiting``, ``starting``, ``running``, ``paused``, ``completed``, ``cancelled`` or ``blocked``."""
    phase: str | None = None
    passed: list[str] = []
    health: Health = "on_track"
    next_due: datetime | None = None
    waiting: str | None = None
    """What one not yet started waits for (``waiting for email to pass pilot``)."""
    waiting_for: list[str] = []
    """The gates a running one waits on."""


class TransitionStatus(Message):
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
    wave_share: str | None = None
    """What the wave under way takes of the scope (``21,000 of 42,000 contacts a month, 12 of 24 FTE``)."""
    reworks: int = 0
    gates: list[GateStatus] = []
    escalations: list[Escalation] = []
    started_at: datetime
    phase_started_at: datetime
    phase_due_at: datetime | None = None
    earliest_pass_at: datetime | None = None
    timezone: str | None = None
    """The plan calendar's time zone, in which people read its due dates."""
    business_left: str | None = None
    """Business time left until the phase's business due (``2bd 3bh``); negative reads as zero."""
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
    first_run_id: str | None = None
    """The run family every signature covers (`models.signing`)."""
    trusted_keys: list[str] = []
    """Fingerprints of the public keys every command must be signed by; empty: unsigned."""
    started_by: str | None = None
    """Who started the transition: the operator at the command line, or the web app's user."""
    delegations: list[Delegation] = []
    """The delegations in force: who decides for whom, until when."""
    notices_pending: int = 0
    """Deliveries waiting for another try (``bpo notices``)."""
    notices_failed: int = 0
    """Deliveries given up; ``bpo notices --retry`` sends them again."""
    raid: list[RaidItem] = []
    """The RAID log: open items first, then those closed."""
    feeds: dict[str, FeedState] = {}
    """Each KPI feed: the next period it is pulled for, the pull under way, periods with no data."""
    objectives: list[ObjectiveStatus] = []
    amendments: list[Amendment] = []
    """Plan versions proposed: who, why, what changes, how decided (the plans themselves left out)."""
    audit_head: ChainHead | None = None
    """The audit chain's head the transition recorded after its latest flush (position, hash)."""
    program: str | None = None
    """A workstream's program (its id is ``PROGRAM/KEY``)."""
    workstreams: list[WorkstreamStatus] = []
    """A program's workstreams, in the plan's order."""
    value: ValueStatus | None = None
    """Value realized: baseline, target and actual per KPI that has a baseline, and the savings
    against the business case (`models.value`); None when the plan gives neither. Left out of
    an update's brief answer."""
