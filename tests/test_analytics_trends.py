"""KPI trends against SLA across a provider's transitions (issue 30): each period's readings, in
the month it was first read, held against its own plan's SLA; providers apart; a transition whose
plan is unknown left out. Read from the trail the rules wrote, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

from sqlmodel import Session

from bpo.analytics import analytics_text, facts_of
from bpo.analytics_charts import charts
from infra.analytics import analytics
from infra.audit import write_entries
from models.analytics import AnalyticsFilter
from models.plan import Plan
from tests.rules.sim import PLAN as REFERENCE
from tests.rules.sim import START, Run


def trail(plan: Plan, tid: str, months: list[dict[str, float]]) -> Run:
    """A transition of ``plan`` under ``tid`` reading ``months`` (one period a month)."""
    run = Run(plan)
    for n, values in enumerate(months):
        run.read(f"M{n + 1}", **values)
        run.later(days=31)
    return run


def moved(run: Run, tid: str) -> list:
    return [e.model_copy(update={"transition_id": tid, "id": e.id.replace("t-1", tid, 1)}) for e in run.audit]


def test_a_providers_kpis_month_by_month_against_each_plans_sla(engine):
    stricter = REFERENCE.model_copy(
        update={"kpis": [k.model_copy(update={"sla": 95.0}) if k.key == "csat" else k for k in REFERENCE.kpis]}
    )
    elsewhere = REFERENCE.model_copy(update={"provider": "Southwind BPO"})
    runs = {
        "a": (REFERENCE, trail(REFERENCE, "a", [{"csat": 80.0, "error_rate": 1.0}, {"csat": 90.0}])),
        "b": (stricter, trail(stricter, "b", [{"csat": 90.0}, {"csat": 96.0}])),  # 90 misses its own 95
        "c": (elsewhere, trail(elsewhere, "c", [{"csat": 70.0}])),
        "d": (REFERENCE, trail(REFERENCE, "d", [{"csat": 10.0}])),  # its plan unknown: left out
    }
    with Session(engine) as session:
        write_entries([e for tid, (_, run) in runs.items() for e in moved(run, tid)], session=session)
    facts = {tid: facts_of(plan, START) for tid, (plan, _) in runs.items() if tid != "d"}
    found = analytics(engine, AnalyticsFilter(), facts, runs["a"][1].now)

    by = {(t.provider, t.kpi): t for t in found.kpi_trends}
    assert set(by) == {("NorthStar BPO", "csat"), ("NorthStar BPO", "error_rate"), ("Southwind BPO", "csat")}
    north = by[("NorthStar BPO", "csat")]
    assert [(p.month, p.transitions, p.readings, p.median, p.met_share) for p in north.points] == [
        ("2027-01", 2, 2, 85.0, 0.0),  # a's 80 misses 85; b's 90 misses its own 95
        ("2027-02", 2, 2, 93.0, 1.0),
    ]
    assert [(p.median, p.met_share) for p in by[("Southwind BPO", "csat")].points] == [(70.0, 0.0)]
    assert [(p.median, p.met_share) for p in by[("NorthStar BPO", "error_rate")].points] == [(1.0, 1.0)]

    drawn = charts(found)["trends"]
    assert 'aria-label="Readings that met the SLA, by provider and KPI' in drawn
    assert "NorthStar BPO: Customer satisfaction (2027-02): 100 %" in drawn  # against 0 % the month before
    text = analytics_text(found)
    # The SLA shown is the newest plan's (started last, else the last by id): b's.
    assert re.search(r"NorthStar BPO +csat +≥ 95 percent +2027-02 +2 +2 +93 +100%", text), text


def test_only_the_chosen_provider_has_trends(engine):
    elsewhere = REFERENCE.model_copy(update={"provider": "Southwind BPO"})
    a, c = trail(REFERENCE, "a", [{"csat": 88.0}]), trail(elsewhere, "c", [{"csat": 70.0}])
    with Session(engine) as session:
        write_entries(moved(a, "a") + moved(c, "c"), session=session)
    facts = {"a": facts_of(REFERENCE, START), "c": facts_of(elsewhere, START)}
    found = analytics(engine, AnalyticsFilter(provider="Southwind BPO"), facts, a.now)
    assert [(t.provider, t.kpi) for t in found.kpi_trends] == [("Southwind BPO", "csat")]
