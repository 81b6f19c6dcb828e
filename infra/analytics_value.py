"""Value realized across the portfolio, from the audit trail and each transition's plan facts:
the latest reading of each KPI with a baseline, and the business case's savings net of the costs
recorded, the credits and the bonuses settled, from go-live (steady state's start) to now or the
transition's end. The arithmetic is `models.value`'s, the same as each transition's status.

What the trail gives is gathered as a fold (`Gathered`), one event at a time, so the projector
keeps it in a row beside the walk and carries it on with later rows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from models.analytics import PlanFacts, TransitionValue
from models.audit_events.base import Event
from models.audit_events.decisions import Cancelled, CostRecorded
from models.audit_events.happenings import Readings, Settled, TransitionCompleted
from models.value import kpi_value, savings_of

VALUE_KINDS = ("kpi_reading", "kpi_corrected", "settlement", "cost_recorded")
"""The kinds of row value realized reads besides those of the walk."""

Monthly = dict[str, dict[str, dict[str, float]]]
"""Each KPI's standing values by month, then by period label (a period belongs to the month of its
first reading): what the trends read, gathered as the readings come."""


@dataclass
class Gathered:
    """What value realized and the trends read of one trail: each period's month (by label, in
    the order first read) and the values standing (`Monthly`), the costs by category, the credits
    and bonuses settled, and when the transition ended."""

    periods: dict[str, str] = field(default_factory=dict)
    monthly: Monthly = field(default_factory=dict)
    costs: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    credits: list[float] = field(default_factory=list)
    bonuses: list[float] = field(default_factory=list)
    ended: datetime | None = None

    def add(self, e: Event) -> None:
        """Gather one more event, later than those before."""
        if isinstance(e, Readings):  # a correction replaces its own period's values
            month = self.periods.setdefault(e.period, f"{e.at:%Y-%m}")
            for key, value in e.values.items():
                self.monthly.setdefault(key, {}).setdefault(month, {})[e.period] = value
        elif isinstance(e, Settled):
            self.credits.append(e.credit)
            self.bonuses.append(e.bonus)
        elif isinstance(e, CostRecorded) and e.amount and e.category:
            with suppress(InvalidOperation):  # not a row the rules wrote: left out rather than guessed
                self.costs[e.category] += Decimal(e.amount)
        elif isinstance(e, (Cancelled, TransitionCompleted)):
            self.ended = e.at

    def latest(self) -> dict[str, float]:
        """Each metric's latest reading as the status keeps it (`workflows.rules.readings.newest`):
        its value in the last period that holds it, a correction standing in its own period."""
        latest: dict[str, float] = {}
        for label, month in self.periods.items():
            for key, months in self.monthly.items():
                if (value := months.get(month, {}).get(label)) is not None:
                    latest[key] = value
        return latest

    def dumped(self) -> dict[str, Any]:
        """What was gathered, as JSON holds it."""
        return {
            "periods": self.periods,
            "monthly": self.monthly,
            "costs": {category: str(amount) for category, amount in self.costs.items()},
            "credits": self.credits,
            "bonuses": self.bonuses,
            "ended": self.ended.isoformat() if self.ended else None,
        }

    @classmethod
    def loaded(cls, d: dict[str, Any]) -> Gathered:
        """What `dumped` gave."""
        return cls(
            periods=d["periods"],
            monthly=d["monthly"],
            costs=defaultdict(Decimal, {category: Decimal(amount) for category, amount in d["costs"].items()}),
            credits=d["credits"],
            bonuses=d["bonuses"],
            ended=datetime.fromisoformat(d["ended"]) if d["ended"] else None,
        )


def gathered(events: Iterable[Event]) -> Gathered:
    """What ``events`` (oldest first) give value realized and the trends."""
    found = Gathered()
    for e in events:
        found.add(e)
    return found


def latest_readings(events: Iterable[Event]) -> dict[str, float]:
    """Each metric's latest reading in ``events`` (oldest first), as `Gathered.latest` reads it."""
    return gathered(events).latest()


def value_of(
    transition_id: str, found: Gathered, plan: PlanFacts | None, go_live: datetime | None, now: datetime
) -> TransitionValue | None:
    """One transition's value realized from what its trail gave; None without a plan that gives
    a baseline or a business case."""
    if plan is None or (not plan.baselines and plan.business_case is None):
        return None
    latest = found.latest()
    kpis = [
        kpi_value(key, k.name, k.unit, k.better, k.baseline, k.target, latest.get(key))
        for key, k in plan.baselines.items()
    ]
    case = plan.business_case
    savings = savings_of(case, found.costs, found.credits, found.bonuses, go_live, found.ended or now) if case else None
    return TransitionValue(transition_id=transition_id, kpis=kpis, savings=savings)


def transition_value(
    transition_id: str, events: list[Event], plan: PlanFacts | None, go_live: datetime | None, now: datetime
) -> TransitionValue | None:
    """One transition's value realized from its events (oldest first), as `value_of` works it out."""
    return value_of(transition_id, gathered(events), plan, go_live, now)
