"""Value realized, worked out from the plan and the carried state: each KPI's baseline, target
and latest reading, and the business case's savings net of costs, service credits and bonuses
(the arithmetic is `models.value`'s, which the portfolio's analytics share)."""

from __future__ import annotations

from datetime import datetime

from models.plan import Kpi
from models.value import KpiValue, Savings, ValueStatus, kpi_value, savings_of
from workflows.rules.clock import View


def of_kpi(kpi: Kpi, actual: float | None) -> KpiValue:
    """One KPI (which must have a baseline) from its baseline to its target and ``actual``."""
    assert kpi.baseline is not None
    target = kpi.target if kpi.target is not None else kpi.sla
    return kpi_value(kpi.key, kpi.name, kpi.unit, kpi.better, kpi.baseline, target, actual)


def savings(v: View, now: datetime) -> Savings | None:
    """The business case against what happened by ``now`` (an ended transition: by its end);
    None if the plan has no case. Go-live is the start of steady state."""
    case = v.plan.business_case
    if case is None:
        return None
    ledger = v.state.ledger
    settled = ledger.settlements if ledger else []
    return savings_of(
        case,
        v.state.cost_totals,
        (s.credit for s in settled),
        (s.bonus for s in settled),
        ledger.since if ledger else None,
        v.state.ended_at or now,
    )


def value(v: View, now: datetime) -> ValueStatus | None:
    """Where the transition stands against its baselines and its business case; None when the
    plan gives neither."""
    kpis = [of_kpi(k, v.state.latest.get(k.key)) for k in v.plan.kpis if k.baseline is not None]
    found = savings(v, now)
    if not kpis and found is None:
        return None
    return ValueStatus(kpis=kpis, savings=found)
