"""Steady-state governance, in plain Python: settling a review period and summing up a quarter.

`settle` turns one period's readings into a `Settlement`: per KPI with readings the period's
value (the mean of its readings) against the SLA, service credits for each miss as a percent of
the monthly fee (summed, capped at ``cap_percent``), and bonuses where ``at_least`` was reached.
A KPI that carries a credit but had no reading is "no data", never "met".
"""

from __future__ import annotations

from datetime import datetime

from models.messages import Settlement
from models.plan import Kpi, Plan


def period_values(readings: dict[str, dict[str, float]]) -> dict[str, float]:
    """Each metric's value for the period: the mean of its readings across period labels."""
    collected: dict[str, list[float]] = {}
    for values in readings.values():
        for metric, value in values.items():
            collected.setdefault(metric, []).append(value)
    return {metric: sum(vs) / len(vs) for metric, vs in collected.items()}


def _reaches(kpi: Kpi, value: float, level: float) -> bool:
    return value >= level if kpi.better == "higher" else value <= level


def settle(
    plan: Plan,
    readings: dict[str, dict[str, float]],
    *,
    period: int,
    start: datetime,
    end: datetime,
    contract_year: int,
    breaches: list[str],
) -> Settlement:
    """The settlement of one review period from the readings that arrived in it."""
    values = period_values(readings)
    terms = plan.service_credits
    kpis: dict[str, str] = {}
    for metric, value in values.items():
        kpi = plan.kpi(metric)
        if kpi is not None:
            kpis[metric] = "met" if kpi.meets_sla(value) else "missed"
    credit_percent = bonus_percent = 0.0
    fee, cap, currency = 0.0, 100.0, "USD"
    if terms:
        fee, cap, currency = terms.monthly_fee, terms.cap_percent, terms.currency
        for credit in terms.credits:
            status = kpis.setdefault(credit.kpi, "no data")
            if status == "missed":
                credit_percent += credit.percent
        for bonus in terms.bonuses:
            kpi = plan.kpi(bonus.kpi)
            if kpi is not None and bonus.kpi in values and _reaches(kpi, values[bonus.kpi], bonus.at_least):
                bonus_percent += bonus.percent
    capped = credit_percent > cap
    charged = min(credit_percent, cap)
    return Settlement(
        period=period,
        from_=start,
        to=end,
        contract_year=contract_year,
        kpis=dict(sorted(kpis.items())),  # type: ignore[arg-type]
        values={k: round(v, 6) for k, v in sorted(values.items())},
        credit_percent=charged,
        capped=capped,
        credit=round(fee * charged / 100, 2),
        bonus=round(fee * bonus_percent / 100, 2),
        currency=currency,
        breaches=sorted(breaches),
    )


def settlement_text(s: Settlement) -> str:
    """A settlement as one paragraph for a notification."""
    kpis = ", ".join(f"{k} {v}" for k, v in s.kpis.items()) or "no readings"
    cap = " (capped)" if s.capped else ""
    return (
        f"Period {s.period} ({s.from_:%Y-%m-%d} to {s.to:%Y-%m-%d}): {kpis}. "
        f"Service credit {s.credit:,.2f} {s.currency} ({s.credit_percent:g}% of the monthly fee{cap}); "
        f"bonus {s.bonus:,.2f} {s.currency}."
    )


def quarter_summary(settlements: list[Settlement], open_escalations: int) -> str:
    """What a business review needs first: the quarter's settlements, breaches and escalations."""
    if not settlements:
        return f"No period was settled this quarter. Open escalations: {open_escalations}."
    currency = settlements[-1].currency
    credit = sum(s.credit for s in settlements)
    bonus = sum(s.bonus for s in settlements)
    missed = sorted({k for s in settlements for k, v in s.kpis.items() if v == "missed"})
    breaches = sum(len(s.breaches) for s in settlements)
    return (
        f"Periods {settlements[0].period} to {settlements[-1].period}: service credits "
        f"{credit:,.2f} {currency}, bonuses {bonus:,.2f} {currency}; SLAs missed: "
        f"{', '.join(missed) or 'none'}; breach alerts: {breaches}; open escalations: {open_escalations}."
    )
