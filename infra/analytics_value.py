"""Value realized across the portfolio, from the audit trail and each transition's plan facts:
the latest reading of each KPI with a baseline, and the business case's savings net of the costs
recorded, the credits and the bonuses settled, from go-live (steady state's start) to now or the
transition's end. The arithmetic is `models.value`'s, the same as each transition's status."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal, InvalidOperation

from models.analytics import PlanFacts, TransitionValue
from models.audit_events.base import Event
from models.audit_events.decisions import Cancelled, CostRecorded
from models.audit_events.happenings import KpiCorrected, Readings, Settled, TransitionCompleted
from models.value import kpi_value, savings_of

VALUE_KINDS = ("kpi_reading", "kpi_corrected", "settlement", "cost_recorded")
"""The kinds of row value realized reads besides those of the walk."""


class Latest:
    """Each metric's latest reading, kept as the status keeps it (`workflows.rules.readings.newest`):
    a reading is the latest of its metric; a correction replaces its own period's value, which is
    the latest only if no later period holds a reading of that metric."""

    def __init__(self) -> None:
        self.values: dict[str, float] = {}
        self._periods: dict[str, set[str]] = {}
        """The metrics read for each period label, in the order the labels first came."""

    def add(self, event: Readings) -> None:
        """Take one row of readings or corrections (oldest first)."""
        values = event.values
        if isinstance(event, KpiCorrected) and event.period in self._periods:
            labels = list(self._periods)
            later = set().union(*(self._periods[p] for p in labels[labels.index(event.period) + 1 :]))
            values = {k: v for k, v in values.items() if k not in later}
        self._periods.setdefault(event.period, set()).update(event.values)
        self.values.update(values)


def transition_value(
    transition_id: str, events: list[Event], plan: PlanFacts | None, go_live: datetime | None, now: datetime
) -> TransitionValue | None:
    """One transition's value realized from its events (oldest first); None without a plan that
    gives a baseline or a business case."""
    if plan is None or (not plan.baselines and plan.business_case is None):
        return None
    latest = Latest()
    costs: dict[str, Decimal] = defaultdict(Decimal)
    credits: list[float] = []
    bonuses: list[float] = []
    ended: datetime | None = None
    for e in events:
        if isinstance(e, Readings):
            latest.add(e)
        elif isinstance(e, Settled):
            credits.append(e.credit)
            bonuses.append(e.bonus)
        elif isinstance(e, CostRecorded) and e.amount and e.category:
            try:
                costs[e.category] += Decimal(e.amount)
            except InvalidOperation:  # not a row the rules wrote: left out rather than guessed
                continue
        elif isinstance(e, (Cancelled, TransitionCompleted)):
            ended = e.at
    kpis = [
        kpi_value(key, k.name, k.unit, k.better, k.baseline, k.target, latest.values.get(key))
        for key, k in plan.baselines.items()
    ]
    case = plan.business_case
    savings = savings_of(case, costs, credits, bonuses, go_live, ended or now) if case else None
    return TransitionValue(transition_id=transition_id, kpis=kpis, savings=savings)
