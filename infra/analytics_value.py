"""Value realized across the portfolio, from the audit trail and each transition's plan facts:
the latest reading of each KPI with a baseline, and the business case's savings net of the costs
recorded, the credits and the bonuses settled, from go-live (steady state's start) to now or the
transition's end. The arithmetic is `models.value`'s, the same as each transition's status."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation

from models.analytics import PlanFacts, TransitionValue
from models.audit_events.base import Event
from models.audit_events.decisions import Cancelled, CostRecorded
from models.audit_events.happenings import Readings, Settled, TransitionCompleted
from models.value import kpi_value, savings_of

VALUE_KINDS = ("kpi_reading", "kpi_corrected", "settlement", "cost_recorded")
"""The kinds of row value realized reads besides those of the walk."""


def standing(events: Iterable[Event]) -> dict[str, tuple[str, dict[str, float]]]:
    """Each period's month (of its first reading) and its standing values, by period label, in
    the order the labels first came: a correction replaces its own period's values."""
    periods: dict[str, tuple[str, dict[str, float]]] = {}
    for e in events:
        if isinstance(e, Readings):
            month, values = periods.get(e.period, (f"{e.at:%Y-%m}", {}))
            periods[e.period] = (month, {**values, **e.values})
    return periods


def latest_readings(events: Iterable[Event]) -> dict[str, float]:
    """Each metric's latest reading as the status keeps it (`workflows.rules.readings.newest`):
    its value in the last period that holds it, a correction standing in its own period."""
    latest: dict[str, float] = {}
    for _, values in standing(events).values():
        latest.update(values)
    return latest


def transition_value(
    transition_id: str, events: list[Event], plan: PlanFacts | None, go_live: datetime | None, now: datetime
) -> TransitionValue | None:
    """One transition's value realized from its events (oldest first); None without a plan that
    gives a baseline or a business case."""
    if plan is None or (not plan.baselines and plan.business_case is None):
        return None
    latest = latest_readings(events)
    costs: dict[str, Decimal] = defaultdict(Decimal)
    credits: list[float] = []
    bonuses: list[float] = []
    ended: datetime | None = None
    for e in events:
        if isinstance(e, Settled):
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
        kpi_value(key, k.name, k.unit, k.better, k.baseline, k.target, latest.get(key))
        for key, k in plan.baselines.items()
    ]
    case = plan.business_case
    savings = savings_of(case, costs, credits, bonuses, go_live, ended or now) if case else None
    return TransitionValue(transition_id=transition_id, kpis=kpis, savings=savings)
