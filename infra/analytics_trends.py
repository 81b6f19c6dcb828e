"""KPI trends against SLA across the transitions of one provider: each period's standing values
(a correction replaces what it corrects), put in the month the period was first read, then per
provider, KPI and month the number of readings, their median and the share that met the SLA.
Periods are labelled by each plan (``2027-W09``, ``Q1``), so months, not labels, line transitions
up. Only transitions whose plan is known count: the plan names the provider and the SLA."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime

from infra.analytics_value import Monthly
from models.analytics import KpiTrend, PlanFacts, SlaFacts, TrendPoint, median

TREND_KINDS = ("kpi_reading", "kpi_corrected")
"""The kinds of row the trends read."""


class _Month:
    """One provider's KPI in one month: every value read, kept by the SLA it is held against (a
    bar and its direction: most transitions of a provider share one, so each is counted once,
    sorted), and from how many transitions."""

    __slots__ = ("by_bar", "transitions")

    def __init__(self) -> None:
        self.by_bar: dict[tuple[float, bool], list[float]] = defaultdict(list)
        self.transitions = 0

    def point(self, month: str) -> TrendPoint | None:
        """The month as its trend shows it; none without a value."""
        values = [v for held in self.by_bar.values() for v in held]
        if not values:
            return None
        met = 0
        for (bar, higher), held in self.by_bar.items():
            held.sort()
            met += len(held) - bisect_left(held, bar) if higher else bisect_right(held, bar)
        return TrendPoint(
            month=month,
            readings=len(values),
            transitions=self.transitions,
            median=median(values),
            met_share=round(met / len(values), 3),
        )


def kpi_trends(monthly: Mapping[str, tuple[datetime, Monthly]], facts: Mapping[str, PlanFacts]) -> list[KpiTrend]:
    """The trends of the transitions in ``monthly`` (each one's first moment and its KPIs' standing
    values by month, `infra.analytics_value.Gathered`) whose plan in ``facts`` names a provider,
    by provider and KPI key; each value met or not against its own transition's SLA."""
    read: dict[tuple[str, str], dict[str, _Month]] = defaultdict(lambda: defaultdict(_Month))
    slas: dict[tuple[str, str], SlaFacts] = {}
    oldest_first = sorted(monthly.items(), key=lambda t: (t[1][0], t[0]))
    for tid, (_, kpis) in oldest_first:  # so the newest plan's SLA is the one a trend shows
        plan = facts.get(tid)
        if plan is None or not plan.provider:
            continue
        for key, by_month in kpis.items():
            if (sla := plan.slas.get(key)) is None:
                continue
            line, against = read[(plan.provider, key)], (sla.sla, sla.better == "higher")
            for month, labelled in by_month.items():
                found = line[month]
                found.by_bar[against].extend(labelled.values())
                found.transitions += 1
        for key, sla in plan.slas.items():
            slas[(plan.provider, key)] = sla
    trends = []
    for (provider, key), months in sorted(read.items()):
        sla = slas[(provider, key)]
        points = [point for month, m in sorted(months.items()) if (point := m.point(month)) is not None]
        trends.append(KpiTrend(provider=provider, kpi=key, name=sla.name, unit=sla.unit, better=sla.better,
                               sla=sla.sla, points=points))  # fmt: skip
    return trends
