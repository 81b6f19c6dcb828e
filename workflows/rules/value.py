"""Value realized, worked out from the plan and the carried state: each KPI's baseline, target
and latest reading, and the business case's savings net of costs, service credits and bonuses.

Money is summed as `Decimal` to the cent; a settlement's credit and bonus (floats, rounded to the
cent where they were settled) are read as the cents they print as.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from models.plan import Kpi
from models.value import KpiValue, Savings, ValueStatus
from workflows.rules.clock import View

CENT = Decimal("0.01")
YEAR_DAYS = Decimal(365)


def cents(value: float | Decimal) -> Decimal:
    """``value`` to the cent, half up (a float read as the digits it prints as)."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def kpi_value(kpi: Kpi, actual: float | None) -> KpiValue:
    """One KPI from its baseline (which it must have) to its target and its latest reading."""
    assert kpi.baseline is not None
    change = None if actual is None else round(actual - kpi.baseline, 6)
    improved = None if change is None else (change > 0 if kpi.better == "higher" else change < 0)
    return KpiValue(
        key=kpi.key,
        name=kpi.name,
        unit=kpi.unit,
        better=kpi.better,
        baseline=kpi.baseline,
        target=kpi.target if kpi.target is not None else kpi.sla,
        actual=actual,
        change=change,
        improved=improved,
    )


def savings(v: View, now: datetime) -> Savings | None:
    """The business case against what happened by ``now``; None if the plan has no case."""
    case = v.plan.business_case
    if case is None:
        return None
    ledger = v.state.ledger
    settled = ledger.settlements if ledger else []
    credits = sum((cents(s.credit) for s in settled), Decimal(0))
    bonuses = sum((cents(s.bonus) for s in settled), Decimal(0))
    by_category = {k: cents(t) for k, t in sorted(v.state.cost_totals.items())}
    costs = sum(by_category.values(), Decimal(0))
    live_since = ledger.since if ledger else None
    until = v.state.ended_at or now  # an ended transition saves nothing more
    days = Decimal(str(max((until - live_since).total_seconds(), 0) / 86400)) if live_since else Decimal(0)
    to_date = cents(case.annual_savings * days / YEAR_DAYS)
    net = to_date - costs + credits - bonuses
    planned = to_date - cents(case.one_off_costs)
    return Savings(
        currency=case.currency,
        annual_savings=cents(case.annual_savings),
        one_off_costs=cents(case.one_off_costs),
        costs=costs,
        costs_by_category=by_category,
        credits=credits,
        bonuses=bonuses,
        live_since=live_since,
        savings_to_date=to_date,
        net_to_date=net,
        planned_to_date=planned,
        variance=net - planned,
    )


def value(v: View, now: datetime) -> ValueStatus | None:
    """Where the transition stands against its baselines and its business case; None when the
    plan gives neither (and no cost was recorded)."""
    kpis = [kpi_value(k, v.state.latest.get(k.key)) for k in v.plan.kpis if k.baseline is not None]
    found = savings(v, now)
    if not kpis and found is None:
        return None
    return ValueStatus(kpis=kpis, savings=found)
