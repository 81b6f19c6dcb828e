"""The portfolio's analytics as the command line and the web app give them: each transition's
plan read from Temporal for what the audit trail does not keep (`facts_of`), and the figures
as text (`analytics_text`). The figures themselves are `infra.analytics`'s."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime

import structlog
from sqlalchemy import Engine
from temporalio.client import Client

from bpo.errors import BpoError
from bpo.render import table
from bpo.report import planned_phases
from bpo.value_text import money
from infra.analytics import compute_folds, uncollected
from infra.analytics_fold import Fold
from infra.analytics_projection import Projected, read_projection, refresh, stamp, store_facts
from models.analytics import (
    Analytics,
    AnalyticsFilter,
    KpiFacts,
    KpiTrend,
    PersonFacts,
    PlanFacts,
    PlannedPhase,
    SlaFacts,
    Spread,
)
from models.plan import Person, Plan
from workflows.rules.refusals import RefusalKind

log = structlog.get_logger(__name__)
HOUR = 3600.0
AT_ONCE = 8
"""How many plans are asked of Temporal at the same time."""


def facts_of(plan: Plan, started_at: datetime, roster: list[Person] | None = None) -> PlanFacts:
    """What the analytics need of a plan: its client and provider, each phase's name, planned
    length (as the report's timeline plans it, from ``starts_on`` else ``started_at``) and gates,
    the planned go-live (the last phase's planned end), and each person's roles and side (on the
    ``roster`` as it stands, else the plan's people)."""
    spans = planned_phases(plan, started_at)
    return PlanFacts(
        client=plan.client,
        provider=plan.provider,
        phases={
            phase.key: PlannedPhase(
                name=phase.name,
                planned_hours=round((span.end - span.start).total_seconds() / HOUR, 2),
                gates=[g.key for g in phase.gates],
            )
            for phase, span in zip(plan.phases, spans, strict=True)
        },
        go_live=spans[-1].end if spans else None,
        people={p.id: PersonFacts(roles=list(p.roles), org=p.org) for p in (plan.people if roster is None else roster)},
        baselines={
            k.key: KpiFacts(
                name=k.name,
                unit=k.unit,
                better=k.better,
                baseline=k.baseline,
                target=k.target if k.target is not None else k.sla,
            )
            for k in plan.kpis
            if k.baseline is not None
        },
        business_case=plan.business_case,
        slas={k.key: SlaFacts(name=k.name, unit=k.unit, better=k.better, sla=k.sla) for k in plan.kpis},
    )


async def plans_of(client: Client, started: dict[str, datetime]) -> dict[str, PlanFacts | None]:
    """The facts of each transition's plan and roster, keyed by its id: none for one Temporal no
    longer knows (its history is gone), left out for one it could not answer now (asked again
    next time); ``started`` gives each id its start."""
    from bpo.api import get_plan, get_roster

    gate = asyncio.Semaphore(AT_ONCE)

    async def one(transition_id: str) -> tuple[str, PlanFacts | None] | None:
        async with gate:
            try:
                plan, roster = await get_plan(client, transition_id), await get_roster(client, transition_id)
            except BpoError as error:
                if error.kind != RefusalKind.UNKNOWN_TRANSITION:
                    log.warning("analytics_plan_unread", transition_id=transition_id, error=str(error))
                    return None
                log.info("analytics_plan_unknown", transition_id=transition_id, error=str(error))
                return transition_id, None
            return transition_id, facts_of(plan, started[transition_id], roster)

    return dict(found for found in await asyncio.gather(*(one(t) for t in started)) if found is not None)


KEPT_FOR = 60.0
"""How long figures worked out are answered again while the projection has not moved: the hours
a gate has waited, or a pause has lasted, grow with the clock alone."""
KEPT_FILTERS = 16
"""How many filters' figures one web app keeps."""
WARM_EVERY = 30.0
"""How often the web app brings the projection up and works out the whole portfolio's figures."""


class Kept:
    """Figures worked out, by filter, with the projection's `stamp` and the moment they were
    worked out for: one web app's (a command works them out each time)."""

    def __init__(self) -> None:
        self.by_filter: dict[str, tuple[tuple[int, int, int], float, Analytics]] = {}

    def get(
        self, query: AnalyticsFilter, at: tuple[int, int, int], now: datetime, reading: bool = True
    ) -> Analytics | None:
        """The figures of ``query`` worked out at the stamp ``at`` less than `KEPT_FOR` before
        ``now``, if kept; never while a plan is due and there is Temporal to read it from
        (``reading``): it is read first."""
        kept = self.by_filter.get(query.model_dump_json())
        fresh = kept is not None and kept[0] == at and 0 <= now.timestamp() - kept[1] < KEPT_FOR
        return kept[2] if kept and fresh and not (reading and at[2]) else None

    def keep(self, query: AnalyticsFilter, at: tuple[int, int, int], now: datetime, found: Analytics) -> None:
        """Keep ``found``, the figures of ``query`` at the stamp ``at`` for ``now``: at most
        `KEPT_FILTERS` filters, the one kept longest ago making room (a year of dates, tried one
        by one, never fills the web app's memory)."""
        key = query.model_dump_json()
        self.by_filter.pop(key, None)
        while len(self.by_filter) >= KEPT_FILTERS:
            del self.by_filter[next(iter(self.by_filter))]
        self.by_filter[key] = (at, now.timestamp(), found)


async def portfolio(
    engine: Engine, client: Client | None, query: AnalyticsFilter, now: datetime, kept: Kept | None = None
) -> Analytics:
    """The analytics of the transitions ``query`` chooses: the projection brought up to the
    trail's heads, the plans read from ``client`` for the transitions whose plan is new to the
    projection or changed since (none: the figures the trail and the plans kept give), kept, and
    the figures worked out; with ``kept``, the same figures again while the projection stands
    where it stood (`Kept.get`)."""
    await asyncio.to_thread(refresh, engine)
    at = await asyncio.to_thread(stamp, engine) if kept else (0, 0, 0)
    if kept and (again := kept.get(query, at, now, reading=client is not None)):
        return again
    rows = await asyncio.to_thread(read_projection, engine, query)
    due = {r.transition_id: r for r in rows if r.facts_due}
    if client and due:
        found = await plans_of(client, {tid: Fold.loaded(r.fold).first_at for tid, r in due.items()})
        await asyncio.to_thread(store_facts, engine, {tid: (due[tid].position, f) for tid, f in found.items()})
        # The stamp before the read: a projector that moves between them leaves figures newer
        # than their stamp, worked out again next time, never older ones kept as new.
        at = await asyncio.to_thread(stamp, engine) if kept else at
        rows = await asyncio.to_thread(read_projection, engine, query)
    found_now = await asyncio.to_thread(_figures, rows, query, now)
    if kept:
        kept.keep(query, at, now, found_now)
    return found_now


def _figures(rows: list[Projected], query: AnalyticsFilter, now: datetime) -> Analytics:
    """The figures of the projection's ``rows``, worked out off the event loop."""
    with uncollected():
        facts = {r.transition_id: PlanFacts.model_validate(r.facts) for r in rows if r.facts is not None}
        folds = {r.transition_id: Fold.loaded(r.fold) for r in rows}
        return compute_folds(folds, query, facts, now)


async def keep_warm(engine: Engine, client: Client | None, kept: Kept) -> None:
    """Every `WARM_EVERY` seconds until cancelled, the whole portfolio's figures worked out into
    ``kept``, so the projection is carried on in the background and the page finds them ready."""
    while True:
        try:
            await portfolio(engine, client, AnalyticsFilter(), datetime.now(UTC), kept)
        except Exception:  # a database or Temporal away for now: the next round, or the page, tries again
            log.warning("analytics_warming_failed", exc_info=True)
        await asyncio.sleep(WARM_EVERY)


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:g}h"


def _spread(s: Spread) -> list[str]:
    return [str(s.count), _hours(s.median_hours), _hours(s.p90_hours)]


def _day(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d}" if moment else "-"


def sla_words(trend: KpiTrend) -> str:
    """A trend's SLA as people write it: ``≥ 85%``, ``≤ 30 s``."""
    unit = trend.unit if trend.unit in ("", "%") else f" {trend.unit}"
    return f"{'≥' if trend.better == 'higher' else '≤'} {trend.sla:g}{unit}"


def analytics_text(a: Analytics) -> str:
    """The figures as a person reads them on a terminal: one table per question."""
    parts: list[str] = []

    def section(title: str, head: list[str], rows: Iterable[list[str]]) -> None:
        rows = list(rows)
        parts.append(title + "\n" + (table(head, rows) if rows else "  none"))

    section(
        "PHASES, planned against actual",
        ["PHASE", "NAME", "PASSED", "MEDIAN", "P90", "PLANNED MEDIAN", "ON TIME"],
        (
            [p.key, p.name, *_spread(p.actual), _hours(p.planned.median_hours),
             "-" if p.on_time_share is None else f"{p.on_time_share:.0%}"]
            for p in a.phases
        ),
    )  # fmt: skip
    section(
        "GATE TURNAROUND, from the gate's opening to the decision",
        ["BY", "WHO OR WHAT", "DECISIONS", "MEDIAN", "P90"],
        ([t.by, t.key, *_spread(t.spread)] for t in a.turnaround),
    )
    section(
        "WAITING NOW, longest first",
        ["TRANSITION", "PHASE", "GATE", "OPEN SINCE", "WAITED"],
        ([w.transition_id, w.phase, w.gate, _day(w.since), _hours(w.waited_hours)] for w in a.waiting),
    )
    section(
        "TRANSITIONS",
        ["TRANSITION", "STARTED", "REWORKS", "ESCALATIONS", "WAIVERS", "PAUSES", "PAUSED", "GO-LIVE PLANNED",
         "GO-LIVE", "LATE (DAYS)"],
        (
            [t.transition_id, _day(t.started_at), str(t.reworks), str(t.escalations), str(t.waivers), str(t.pauses),
             _hours(t.paused_hours), _day(t.planned_go_live), _day(t.go_live),
             "-" if t.go_live_late_days is None else f"{t.go_live_late_days:g}"]
            for t in a.transitions
        ),
    )  # fmt: skip
    section(
        "VALUE REALIZED, baseline → target → actual",
        ["TRANSITION", "KPI", "BASELINE → TARGET → ACTUAL"],
        (
            [
                v.transition_id,
                k.key,
                f"{k.baseline:g} → {k.target:g} → " + ("-" if k.actual is None else f"{k.actual:g}"),
            ]
            for v in a.value
            for k in v.kpis
        ),
    )
    section(
        "SAVINGS against the business case, net of costs, credits and bonuses",
        ["TRANSITION", "SAVED TO DATE", "COSTS", "CREDITS", "BONUSES", "NET", "CASE BY NOW", "AGAINST CASE"],
        (
            [v.transition_id, *(money(x, s.currency) for x in (s.savings_to_date, s.costs, s.credits, s.bonuses,
             s.net_to_date, s.planned_to_date)), f"{s.variance:+,.2f} {s.currency}"]
            for v in a.value
            if (s := v.savings) is not None
        ),
    )  # fmt: skip
    section(
        "KPI TRENDS against SLA, by provider and month",
        ["PROVIDER", "KPI", "SLA", "MONTH", "TRANSITIONS", "READINGS", "MEDIAN", "MET SLA"],
        (
            [t.provider, t.kpi, sla_words(t), p.month, str(p.transitions),
             str(p.readings), "-" if p.median is None else f"{p.median:g}",
             "-" if p.met_share is None else f"{p.met_share:.0%}"]
            for t in a.kpi_trends
            for p in t.points
        ),
    )  # fmt: skip
    parts += [f"note: {m}" for m in a.missing]
    return "\n\n".join(parts)
