"""Value realized, as a transition's status reports it: each KPI from the in-house baseline to
its target and its latest reading, and the savings against the business case net of the costs
recorded, the service credits the provider owed and the bonuses it earned."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from models.base import Message
from models.money import BusinessCase

CENT = Decimal("0.01")
YEAR_DAYS = Decimal(365)


class KpiValue(Message):
    """One KPI with a baseline: where the in-house operation stood, the aim, and where it is now."""

    key: str
    name: str
    unit: str = ""
    better: Literal["higher", "lower"]
    baseline: float
    target: float
    """The KPI's ``target``, else its SLA."""
    actual: float | None = None
    """The latest reading; None before the first."""
    change: float | None = None
    """How far the latest reading moved from the baseline, signed as the number moved."""
    improved: bool | None = None
    """Whether it moved in the KPI's ``better`` direction (None without a reading; False unchanged)."""


class Savings(Message):
    """The business case against what happened so far, in its currency.

    ``savings_to_date`` is the case's annual savings for the time since go-live (steady state),
    pro rata by day; ``net_to_date`` takes off the costs recorded and the bonuses paid and adds
    back the service credits owed; ``planned_to_date`` is what the case expected by now (its
    one-off costs instead of those recorded, no credits, no bonuses); ``variance`` is the
    difference, positive when better than the case.
    """

    currency: str
    annual_savings: Decimal
    one_off_costs: Decimal
    costs: Decimal
    costs_by_category: dict[str, Decimal] = {}
    credits: Decimal
    bonuses: Decimal
    live_since: datetime | None = None
    """When steady state began (go-live); None before it."""
    savings_to_date: Decimal
    net_to_date: Decimal
    planned_to_date: Decimal
    variance: Decimal


class ValueStatus(Message):
    """Baseline → target → actual per KPI that has a baseline, and the savings if the plan has a
    business case."""

    kpis: list[KpiValue] = []
    savings: Savings | None = None


def cents(value: float | Decimal) -> Decimal:
    """``value`` to the cent, half up (a float read as the digits it prints as)."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def kpi_value(
    key: str,
    name: str,
    unit: str,
    better: Literal["higher", "lower"],
    baseline: float,
    target: float,
    actual: float | None,
) -> KpiValue:
    """One KPI from its baseline to its target (its SLA where it has none) and its latest reading."""
    change = None if actual is None else round(actual - baseline, 6)
    improved = None if change is None else (change > 0 if better == "higher" else change < 0)
    return KpiValue(
        key=key,
        name=name,
        unit=unit,
        better=better,
        baseline=baseline,
        target=target,
        actual=actual,
        change=change,
        improved=improved,
    )


def savings_of(
    case: BusinessCase,
    costs: Mapping[str, Decimal],
    credits: Iterable[float],
    bonuses: Iterable[float],
    live_since: datetime | None,
    until: datetime,
) -> Savings:
    """The business case against what happened by ``until``: ``costs`` recorded by category, each
    settlement's ``credits`` and ``bonuses``, the case's savings pro rata by day from go-live.
    The one arithmetic the status (`workflows.rules.value`) and the analytics (`infra.analytics_value`) share."""
    by_category = {k: cents(t) for k, t in sorted(costs.items())}
    spent = sum(by_category.values(), Decimal(0))
    credited = sum((cents(c) for c in credits), Decimal(0))
    paid = sum((cents(b) for b in bonuses), Decimal(0))
    days = Decimal(str(max((until - live_since).total_seconds(), 0) / 86400)) if live_since else Decimal(0)
    to_date = cents(case.annual_savings * days / YEAR_DAYS)
    net = to_date - spent + credited - paid
    planned = to_date - cents(case.one_off_costs)
    return Savings(
        currency=case.currency,
        annual_savings=cents(case.annual_savings),
        one_off_costs=cents(case.one_off_costs),
        costs=spent,
        costs_by_category=by_category,
        credits=credited,
        bonuses=paid,
        live_since=live_since,
        savings_to_date=to_date,
        net_to_date=net,
        planned_to_date=planned,
        variance=net - planned,
    )
