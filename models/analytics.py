"""What the portfolio's analytics answer (`infra.analytics` works them out from the audit
database), what they are asked (`AnalyticsFilter`), and the plain statistics they use.

Times are wall-clock hours, pauses included: what a program office waits, not the clocks a plan's
due dates count on. The plan's own figures (planned durations, the gates of each phase, who holds
which role for which side) are not in the audit trail: the first row of a transition keeps only
the plan's name, so they come in as `PlanFacts`, read from each transition's plan, and every
figure that needs one is left out, with a word in `Analytics.missing`, where it is not known.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.money import BusinessCase
from models.value import KpiValue, Savings

FilterName = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f'\"\\]+$")]
"""A client, provider or program to filter on: printable, without quotes or backslashes."""


class AnalyticsFilter(BaseModel):
    """Which transitions the analytics cover: every filter given must hold. ``since`` and
    ``until`` (both days included, in UTC) bound the day each transition started."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client: FilterName | None = None
    provider: FilterName | None = None
    program: FilterName | None = None
    """A program's id: the program and its workstreams (``PROGRAM/KEY``)."""
    since: date | None = None
    until: date | None = None

    @model_validator(mode="after")
    def _in_order(self) -> AnalyticsFilter:
        if self.since and self.until and self.until < self.since:
            raise ValueError(f"until ({self.until}) is before since ({self.since})")
        return self


class PlannedPhase(BaseModel):
    """One phase as its plan has it: its name, how long it is planned to last, its gates."""

    name: str
    planned_hours: float | None = None
    gates: list[str] = []


class PersonFacts(BaseModel):
    """Who a person on a transition's roster is: their roles and their side."""

    roles: list[str] = []
    org: str | None = None


class KpiFacts(BaseModel):
    """A KPI with a baseline, as value realized reads it: the baseline, and its target (else SLA)."""

    name: str
    unit: str = ""
    better: Literal["higher", "lower"]
    baseline: float
    target: float


class SlaFacts(BaseModel):
    """A KPI of a plan as the trends read it: its name, unit, SLA and which way is better."""

    name: str
    unit: str = ""
    better: Literal["higher", "lower"]
    sla: float

    def met(self, value: float) -> bool:
        """Whether ``value`` meets the SLA (as `models.plan.Kpi.meets_sla` says)."""
        return value >= self.sla if self.better == "higher" else value <= self.sla


class PlanFacts(BaseModel):
    """What the analytics read from a transition's plan (`bpo.analytics.facts_of`)."""

    client: str | None = None
    provider: str | None = None
    phases: dict[str, PlannedPhase] = {}
    go_live: datetime | None = None
    """When the last phase is planned to pass."""
    people: dict[str, PersonFacts] = {}
    baselines: dict[str, KpiFacts] = {}
    """The KPIs with a ``baseline``, by key."""
    business_case: BusinessCase | None = None
    slas: dict[str, SlaFacts] = {}
    """Every KPI of the plan, by key: what the trends hold readings against."""


class Spread(BaseModel):
    """How long something took, over ``count`` cases: the median and the 90th percentile, in hours."""

    count: int = 0
    median_hours: float | None = None
    p90_hours: float | None = None


class PhaseFigures(BaseModel):
    """One phase key across the transitions that passed it."""

    key: str
    name: str
    actual: Spread
    planned: Spread
    """The planned durations of the same phases, where their plans are known."""
    on_time_share: float | None = None
    """The share (0 to 1) of the phases with a known plan that took no longer than planned."""


class Turnaround(BaseModel):
    """How long decisions took from the gate's opening, for one gate, role, org or person."""

    by: str
    """``gate``, ``role``, ``org`` or ``person``."""
    key: str
    spread: Spread


class Waiting(BaseModel):
    """A gate open now, and how long it has waited since it opened."""

    transition_id: str
    phase: str
    gate: str
    since: datetime
    waited_hours: float


class TransitionFigures(BaseModel):
    """One transition's reworks, escalations, waivers, pauses and go-live."""

    transition_id: str
    started_at: datetime
    reworks: int = 0
    escalations: int = 0
    waivers: int = 0
    pauses: int = 0
    paused_hours: float = 0.0
    planned_go_live: datetime | None = None
    go_live: datetime | None = None
    """When the last phase passed, if it has."""
    go_live_late_days: float | None = None
    """Days after the planned go-live it went live (negative: early); none until both are known."""


class TransitionValue(BaseModel):
    """One transition's value realized: baseline → target → actual per KPI, and its savings
    against the business case (`models.value.savings_of`, as its status works them out)."""

    transition_id: str
    kpis: list[KpiValue] = []
    savings: Savings | None = None


class TrendPoint(BaseModel):
    """One month of a KPI's readings across a provider's transitions: how many periods were read,
    their median, and the share that met the SLA."""

    month: str
    """``YYYY-MM``, of when each period was first read."""
    readings: int
    transitions: int
    median: float | None = None
    met_share: float | None = None


class KpiTrend(BaseModel):
    """One KPI key of one provider, month by month, against its SLA (the SLA of the newest plan
    that names it, when plans differ)."""

    provider: str
    kpi: str
    name: str
    unit: str = ""
    better: Literal["higher", "lower"]
    sla: float
    points: list[TrendPoint] = []


class Analytics(BaseModel):
    """The portfolio's figures for the transitions a filter chose, as of ``at``."""

    filter: AnalyticsFilter
    at: datetime
    transitions: list[TransitionFigures] = []
    phases: list[PhaseFigures] = []
    turnaround: list[Turnaround] = []
    waiting: list[Waiting] = []
    """Open gates, longest waiting first."""
    missing: list[str] = []
    """What could not be worked out, and why."""
    value: list[TransitionValue] = []
    """Value realized, for each transition whose plan gives baselines or a business case."""
    kpi_trends: list[KpiTrend] = []
    """KPI readings against SLA across each provider's transitions, month by month."""


def median(values: list[float]) -> float | None:
    """The middle value (the mean of the two middle ones for an even count); none of nothing."""
    if not values:
        return None
    ordered, mid = sorted(values), len(values) // 2
    return ordered[mid] if len(values) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def p90(values: list[float]) -> float | None:
    """The 90th percentile by nearest rank: the smallest value at least 90% of the values do not
    exceed (of 10 values, the 9th; of 3, the 3rd), always one of the values seen."""
    if not values:
        return None
    return sorted(values)[math.ceil(0.9 * len(values)) - 1]


def spread(hours: list[float]) -> Spread:
    """The spread of durations in hours, rounded to the hundredth."""

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 2)

    return Spread(count=len(hours), median_hours=rounded(median(hours)), p90_hours=rounded(p90(hours)))
