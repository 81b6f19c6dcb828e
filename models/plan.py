"""The transition plan a program office writes: pydantic models of every key it may hold.

These models check each value on its own; `models.plan_checks` checks how the values fit
together (a KPI named in a gate exists, an approval can be given by someone on the roster).
"""

from __future__ import annotations

import math
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from models.base import Grown, Strict
from models.calendar import Calendar
from models.durations import Duration, Span
from models.feeds import FeedUse, ReportingPeriod, Source
from models.gates import ChecklistGate, Gate, GateSpec, Reminders
from models.money import BusinessCase
from models.plan_words import EscalationLevel, Key, Org, Role, Share

STANDARD_ROLES = (
    "executive_sponsor",
    "program_manager",
    "point_of_contact",
    "transition_lead",
    "sme",
    "qa_lead",
    "training_lead",
    "team_lead",
    "account_manager",
    "finance",
    "it_lead",
    "hr_lead",
)
"""Roles every plan may name, whether or not anyone holds them yet."""

WAIVE_ROLES = ("executive_sponsor", "program_manager")
"""Who may waive a gate, pass a gate kind with no approvers, or cancel (semantics: waive)."""

CONTROL_ROLES = ("executive_sponsor", "program_manager", "transition_lead")
"""Who may pause and resume a transition."""

NOTIFIED_OF_CONTROL = ["point_of_contact", "program_manager"]
"""Who is told when a transition is paused, resumed or sent back for rework, or its evidence changes."""


class Objective(Grown):
    """A business objective of the transition, measured by a KPI against a target."""

    _later = ("baseline",)

    key: Key
    statement: str = Field(min_length=1, max_length=2000)
    kpi: Key | None = None
    target: float | None = None
    due: date | None = None
    baseline: float | None = None
    """Where the in-house operation stood before the transition; else its KPI's ``baseline``."""

    @field_validator("baseline")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class ScopeItem(Strict):
    """One line of work that moves to the provider (a queue, a process)."""

    key: Key
    name: str = Field(min_length=1, max_length=200)
    monthly_volume: int | None = Field(default=None, ge=0)
    fte: float | None = Field(default=None, ge=0)


CHANNEL_SETTINGS = ("BPO_WEBHOOK_URL", "BPO_SMTP_URL")
"""The settings a plan may name as ``${...}`` in a channel: the worker resolves them at delivery,
so the URL, its token and the SMTP password never enter Temporal's history."""
KPI_REPORTERS = ("point_of_contact", "program_manager", "transition_lead", "qa_lead")
"""Who may record KPI readings when the plan does not say (trust: Authority)."""
SENIOR_ROLES = ("executive_sponsor", "program_manager", "transition_lead")
"""Roles only an executive sponsor of the same org may grant or take away."""


class Person(Strict):
    """Someone on the roster: who they are, which side they are on, the roles they hold."""

    id: str = Field(min_length=1, max_length=254, pattern=r"^[^\s\x00-\x1f]+$")
    name: str = Field(min_length=1, max_length=200)
    org: Org = "client"
    roles: list[Role] = Field(min_length=1)
    email: str | None = Field(default=None, max_length=254)

    @property
    def address(self) -> str | None:
        """Where email for this person goes: ``email``, else an id that looks like an address."""
        if self.email:
            return self.email
        return self.id if "@" in self.id else None


class Kpi(Grown):
    """A measure the contract watches, its SLA and which direction is better."""

    _later = ("feed", "baseline")

    key: Key
    name: str = Field(min_length=1, max_length=200)
    unit: str = Field(default="", max_length=40)
    better: Literal["higher", "lower"]
    sla: float
    target: float | None = None
    feed: FeedUse | None = None
    """Where its readings are pulled from each reporting period; else the plan's ``feed``."""
    baseline: float | None = None
    """The in-house value before the transition, which the provider's readings are compared with."""

    @field_validator("sla", "target", "baseline")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    def meets_sla(self, value: float) -> bool:
        """Whether ``value`` meets the SLA in this KPI's ``better`` direction."""
        return value >= self.sla if self.better == "higher" else value <= self.sla


class Credit(Strict):
    """A service credit owed when a KPI misses its SLA in a settlement period."""

    kpi: Key
    percent: float = Field(gt=0, le=100)


class Bonus(Strict):
    """A bonus earned when a KPI reaches a level in a settlement period."""

    kpi: Key
    at_least: float
    percent: float = Field(gt=0, le=100)


class ServiceCredits(Strict):
    """The contract's credit terms: per-KPI credits and bonuses, the cap, the fee."""

    period: Literal["monthly"] = "monthly"
    monthly_fee: float = Field(gt=0)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    cap_percent: float = Field(default=100, gt=0, le=100)
    credits: list[Credit] = []
    bonuses: list[Bonus] = []


class LogChannel(Strict):
    """Notices written to the worker's log."""

    kind: Literal["log"]


SETTING_REFERENCE = r"\$\{(?:" + "|".join(CHANNEL_SETTINGS) + r")\}"


class _Connected(Grown):
    """A channel that may name one of the deployment's connections instead of its own target."""

    _later = ("connection",)

    connection: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_-]*$", max_length=64)
    """One of the deployment's connections (``BPO_CONNECTIONS``) open to the plan's client."""


class WebhookChannel(_Connected):
    """Notices posted as JSON to the deployment's ``${BPO_WEBHOOK_URL}``, one of its webhook
    connections, or a URL with no secret in it."""

    kind: Literal["webhook"]
    url: str | None = Field(default=None, pattern=rf"^(https?://\S+|{SETTING_REFERENCE})$")

    @model_validator(mode="after")
    def _one_target(self) -> WebhookChannel:
        if (self.url is None) == (self.connection is None):
            raise ValueError("a webhook channel has a url or a connection, one of them")
        return self


class EmailChannel(_Connected):
    """Notices sent as email through the deployment's mailer: ``${BPO_SMTP_URL}``, or one of its
    smtp connections. (Plans written before the boundary named a server of their own here; they
    still decode, and the worker refuses to send through it.)"""

    kind: Literal["email"]
    smtp: str | None = Field(default=None, pattern=rf"^(smtps?://\S+|{SETTING_REFERENCE})$")
    sender: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")

    @model_validator(mode="after")
    def _one_target(self) -> EmailChannel:
        if (self.smtp is None) == (self.connection is None):
            raise ValueError("an email channel has smtp: ${BPO_SMTP_URL} or a connection, one of them")
        return self


class SlackChannel(Strict):
    """Notices posted to a Slack channel by the deployment's Slack app (``BPO_SLACK_BOT_TOKEN``);
    an approval request carries Approve, Reject and Open buttons. The plan names the channel
    only: the token is the deployment's (trust.md, "The boundary")."""

    kind: Literal["slack"]
    channel: str = Field(pattern=r"^(#[a-z0-9][a-z0-9._-]{0,79}|[CG][A-Z0-9]{8,20})$")
    """``#acme-transition`` (the app must be a member), or a channel id (``C0123456789``)."""


class TeamsChannel(_Connected):
    """Notices posted as Adaptive Cards to a Microsoft Teams channel, through a Teams Workflows or
    incoming-webhook URL of the deployment: ``BPO_TEAMS_WEBHOOK_URL``, or one of its webhook
    connections. The plan carries no URL (it holds the webhook's key, trust.md, "The boundary");
    a request's card opens the gate's page, where the person signs in as usual."""

    kind: Literal["teams"]

    @model_validator(mode="before")
    @classmethod
    def _no_url(cls, data: Any) -> Any:
        if isinstance(data, dict) and "url" in data:
            raise ValueError(
                "a teams channel carries no url (the webhook's URL holds its key): the deployment's "
                "BPO_TEAMS_WEBHOOK_URL serves it, or write connection: NAME for one of its webhook connections"
            )
        return data


Channel = Annotated[
    LogChannel | WebhookChannel | EmailChannel | SlackChannel | TeamsChannel, Field(discriminator="kind")
]


class Cadence(Strict):
    """How often check-ins and business reviews fall due."""

    check_in: Duration | None = None
    business_review: Duration | None = None


class OnReject(Strict):
    """Where a rejected phase goes back to, and how many times it may."""

    back_to: Key
    max_reworks: int = Field(default=1, ge=0, le=20)


class Phase(Strict):
    """One phase of the transition: its gates, due date, minimum duration and waves."""

    key: Key
    name: str = Field(min_length=1, max_length=200)
    due: Span | None = None
    min_duration: Span | None = None
    warn_at: Share | None = None
    """The share of ``due`` at which the phase's awaited people and points of contact are warned."""
    on_reject: OnReject | None = None
    waves: list[float] | None = Field(default=None, min_length=1, max_length=20)
    escalation: list[EscalationLevel] | None = None
    reminders: Reminders | None = None
    gates: list[Gate] = Field(min_length=1, max_length=50)

    def gate(self, key: str) -> GateSpec | None:
        """The gate called ``key`` in this phase, if any."""
        return next((g for g in self.gates if g.key == key), None)


WorkstreamKey = Annotated[str, Field(pattern=r"^[a-z0-9_]+$", min_length=1, max_length=40)]
"""A workstream's key: the last part of its id (``PROGRAM/email``)."""


class Workstream(Strict):
    """One process of a program moving on its own timeline: its scope, what it waits for, its phases.

    It runs as a transition of its own (`models.workstreams`) with the program's roster, KPIs,
    calendar, notifications and ladder unless it names its own.
    """

    key: WorkstreamKey
    name: str = Field(min_length=1, max_length=200)
    scope: list[Key] = Field(min_length=1, max_length=100)
    """The scope items it carries: their volume and FTE are its own."""
    after: dict[WorkstreamKey, Key] = Field(default={}, max_length=10)
    """It starts once each workstream named here has passed the phase named with it."""
    phases: list[Phase] | None = Field(default=None, min_length=1, max_length=50)
    """Its own phases; without them, the plan's ``workstream_phases``."""
    escalation: list[EscalationLevel] | None = None
    notifications: list[Channel] | None = Field(default=None, max_length=20)


class SteadyState(Strict):
    """The contract's steady state: review period, breach alerts, end date."""

    review_period: Duration
    until: date | None = None
    breach_alert: list[Role] = []


class Plan(Grown):
    """A whole transition plan, as `examples/reference-plan.yaml` shows it."""

    _later = ("reporting_period", "feeds", "feed", "workstream_phases", "workstreams", "business_case")

    name: str = Field(min_length=1, max_length=200)
    client: str = Field(min_length=1, max_length=200)
    provider: str = Field(min_length=1, max_length=200)
    starts_on: date | None = None
    roles: list[Role] = []
    objectives: list[Objective] = []
    scope: list[ScopeItem] = []
    people: list[Person] = Field(min_length=1, max_length=500)
    kpis: list[Kpi] = []
    service_credits: ServiceCredits | None = None
    business_case: BusinessCase | None = None
    """The savings expected against the in-house operation, and the transition's one-off costs."""
    escalation: list[EscalationLevel] = []
    notifications: list[Channel] = []
    cadence: Cadence = Cadence()
    phases: list[Phase] = Field(min_length=1, max_length=50)
    steady_state: SteadyState | None = None
    kpi_reporters: list[Role] = Field(default=list(KPI_REPORTERS), min_length=1)
    """Roles whose holders may record KPI readings."""
    breach_alert: list[Role] = []
    """Roles told of a reading that misses its SLA in any phase; default: steady state's list."""
    reminders: Reminders | None = None
    """How often people still awaited are reminded; a phase or a gate may set its own."""
    calendar: Calendar | None = None
    """Working days, hours and holidays in a time zone: what business durations (``5bd``) count."""
    reporting_period: ReportingPeriod = "weekly"
    """The period feeds are pulled for, each once it ends (UTC): a day, an ISO week, a month."""
    feeds: list[Source] = Field(default=[], max_length=20)
    """Where KPI readings can be pulled from: JSON or CSV at a URL, or a SQL query."""
    feed: FeedUse | None = None
    """The source every KPI without a ``feed`` of its own is pulled from."""
    workstream_phases: list[Phase] = Field(default=[], max_length=50)
    """The phases each workstream runs unless it lists its own."""
    workstreams: list[Workstream] = Field(default=[], max_length=50)
    """The processes that move side by side, each a transition of its own (`models.workstreams`)."""

    @property
    def breach_alerted(self) -> list[str]:
        """The roles a breach alert goes to: the plan's ``breach_alert``, else steady state's."""
        return self.breach_alert or (self.steady_state.breach_alert if self.steady_state else [])

    def kpi(self, key: str) -> Kpi | None:
        """The KPI called ``key``, if the plan has one."""
        return next((k for k in self.kpis if k.key == key), None)

    def feed_metrics(self, source: str) -> dict[str, str]:
        """The KPIs pulled from ``source``, each with its selector (the default one filled in)."""
        kind = next((f.kind for f in self.feeds if f.name == source), "json")
        chosen = {k.key: k.feed or self.feed for k in self.kpis}
        default = "$.{kpi}" if kind == "json" else "{kpi}"
        return {key: use.select or default for key, use in chosen.items() if use and use.source == source}

    def person(self, person_id: str) -> Person | None:
        """The person with id ``person_id`` on the plan's roster, if any."""
        return next((p for p in self.people if p.id == person_id), None)

    def phase_index(self, key: str) -> int | None:
        """The position of phase ``key`` in the plan, if it has one."""
        return next((i for i, p in enumerate(self.phases) if p.key == key), None)

    def checklist_items(self, gate: ChecklistGate) -> list[str]:
        """The items of a checklist gate, ``items: scope`` read as the scope's keys."""
        return [s.key for s in self.scope] if gate.items == "scope" else list(gate.items)

    def scope_totals(self) -> tuple[int | None, float | None]:
        """The scope's monthly volume and FTE, summed over the items that give them (None: none do)."""
        volumes = [s.monthly_volume for s in self.scope if s.monthly_volume is not None]
        ftes = [s.fte for s in self.scope if s.fte is not None]
        return (sum(volumes) if volumes else None), (sum(ftes) if ftes else None)

    def workstream(self, key: str) -> Workstream | None:
        """The workstream called ``key``, if the plan has one."""
        return next((w for w in self.workstreams if w.key == key), None)

    def ladder(self, phase: Phase) -> list[EscalationLevel]:
        """The escalation ladder for ``phase``: its own, or the plan's."""
        return phase.escalation if phase.escalation is not None else self.escalation
