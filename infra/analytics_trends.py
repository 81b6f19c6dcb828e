"""KPI trends against SLA across the transitions of one provider: each period's standing values
(a correction replaces what it corrects), put in the month the period was first read, then per
provider, KPI and month the number of readings, their median and the share that met the SLA.
Periods are labelled by each plan (``2027-W09``, ``Q1``), so months, not labels, line transitions
up. Only transitions whose plan is known count: the plan names the provider and the SLA."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime

from infra.analytics_value import Periods
from models.analytics import KpiTrend, PlanFacts, SlaFacts, TrendPoint, median

TREND_KINDS = ("kpi_reading", "kpi_corrected")
"""The kinds of row the trends read."""


def kpi_trends(periods: Mapping[str, tuple[datetime, Periods]], facts: Mapping[str, PlanFacts]) -> list[KpiTrend]:
    """The trends of the transitions in ``periods`` (each one's first moment and its periods'
    standing values, `infra.analytics_value.Gathered`) whose plan in ``facts`` names a provider,
    by provider and KPI key."""
    read: dict[tuple[str, str], dict[str, list[tuple[str, float, bool]]]] = defaultdict(lambda: defaultdict(list))
    slas: dict[tuple[str, str], SlaFacts] = {}
    oldest_first = sorted(periods.items(), key=lambda t: (t[1][0], t[0]))
    for tid, (_, standing) in oldest_first:  # so the newest plan's SLA is the one a trend shows
        plan = facts.get(tid)
        if plan is None or not plan.provider:
            continue
        for month, readings in standing.values():
            for key, value in readings.items():
                if (sla := plan.slas.get(key)) is not None:  # met against this transition's own SLA
                    read[(plan.provider, key)][month].append((tid, value, sla.met(value)))
        for key, sla in plan.slas.items():
            slas[(plan.provider, key)] = sla
    trends = []
    for (provider, key), months in sorted(read.items()):
        sla = slas[(provider, key)]
        points = [
            TrendPoint(
                month=month,
                readings=len(rows),
                transitions=len({tid for tid, _, _ in rows}),
                median=median([v for _, v, _ in rows]),
                met_share=round(sum(met for _, _, met in rows) / len(rows), 3),
            )
            for month, rows in sorted(months.items())
        ]
        trends.append(KpiTrend(provider=provider, kpi=key, name=sla.name, unit=sla.unit, better=sla.better,
                               sla=sla.sla, points=points))  # fmt: skip
    return trends
