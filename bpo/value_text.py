"""Value realized in words and tables, the same wherever it is shown: `bpo status`, the report,
the QBR pack and ``/analytics`` read `models.value.ValueStatus` through these."""

from __future__ import annotations

from decimal import Decimal

from models.status import TransitionStatus
from models.value import KpiValue, Savings, ValueStatus

KPI_HEADERS = ("KPI", "baseline", "target", "actual", "change")
"""The columns of `kpi_rows`."""
SAVINGS_HEADERS = ("", "amount")
"""The columns of `savings_rows`."""


def money(amount: Decimal, currency: str) -> str:
    """``1,250.50 EUR``; a loss reads with its minus sign."""
    return f"{amount:,.2f} {currency}"


def _num(value: float | None, unit: str = "") -> str:
    if value is None:
        return "no reading"
    return f"{value:g}" + ("%" if unit == "percent" else f" {unit}" if unit else "")


def _moved(kpi: KpiValue) -> str:
    if kpi.change is None:
        return ""
    way = "better" if kpi.improved else "unchanged" if kpi.change == 0 else "worse"
    return f"{kpi.change:+g} ({way})"


def kpi_rows(value: ValueStatus) -> list[tuple[str, ...]]:
    """One row per KPI with a baseline: its name, baseline, target, latest reading and the move."""
    return [
        (k.name, _num(k.baseline, k.unit), _num(k.target, k.unit), _num(k.actual, k.unit), _moved(k))
        for k in value.kpis
    ]


def shown(status: TransitionStatus) -> dict[str, list[tuple[str, ...]]]:
    """What a document's "Value realized" section draws: ``value_kpis`` (each KPI, then each
    objective, with a baseline) and ``savings`` (empty without a business case)."""
    value = status.value
    rows = kpi_rows(value) if value else []
    rows += [
        (o.statement, _num(o.baseline), _num(o.target), _num(o.value), "")
        for o in status.objectives
        if o.baseline is not None
    ]
    return {"value_kpis": rows, "savings": list(savings_rows(value.savings)) if value and value.savings else []}


def savings_rows(s: Savings) -> list[tuple[str, str]]:
    """The business case against what happened so far, one figure a row, the net last."""
    c = s.currency
    live = f"since go-live on {s.live_since:%Y-%m-%d}" if s.live_since else "(not live yet)"
    by_category = "; ".join(f"{k} {money(v, c)}" for k, v in s.costs_by_category.items())
    return [
        ("Business case: savings a year", money(s.annual_savings, c)),
        ("Business case: one-off costs", money(s.one_off_costs, c)),
        (f"Savings to date {live}", money(s.savings_to_date, c)),
        ("Costs recorded" + (f" ({by_category})" if by_category else ""), money(Decimal(0) - s.costs, c)),
        ("Service credits owed by the provider", money(s.credits, c)),
        ("Bonuses earned by the provider", money(Decimal(0) - s.bonuses, c)),
        ("Net savings to date", money(s.net_to_date, c)),
        ("The business case expected by now", money(s.planned_to_date, c)),
        ("Against the business case", f"{s.variance:+,.2f} {c}"),
    ]


def value_lines(value: ValueStatus) -> list[str]:
    """The value realized as lines of `bpo status`."""
    out: list[str] = []
    if value.kpis:
        out += ["", "Value (baseline → target → actual):"]
        for k in value.kpis:
            moved = _moved(k)
            tail = f"  {moved}" if moved else ""
            unit = k.unit
            out.append(f"  {k.key}: {_num(k.baseline, unit)} → {_num(k.target, unit)} → {_num(k.actual, unit)}{tail}")
    if value.savings:
        s = value.savings
        out += ["", f"Savings against the business case ({s.currency}):"]
        out += [f"  {label}: {amount}" for label, amount in savings_rows(s)]
    return out
