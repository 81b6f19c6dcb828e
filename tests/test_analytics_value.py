"""Value realized across the portfolio: read from the audit trail the rules wrote and the plan's
facts, each transition's figures are the ones its own status shows (on SQLite and PostgreSQL)."""

from __future__ import annotations

import re

from sqlmodel import Session

from bpo.analytics import analytics_text, facts_of
from infra.analytics import analytics
from infra.audit import write_entries
from models.analytics import AnalyticsFilter
from models.commands import Approve
from tests.rules.sim import PLAN as REFERENCE
from tests.rules.sim import START, Run
from tests.rules.test_value_rules import LI, PLAN, cost


def test_the_portfolios_value_of_a_transition_is_what_its_status_shows(engine):
    run = Run(PLAN)
    run.do(Approve(gate="plan_ok", by=LI))
    run.do(cost("40000", "travel"))
    run.do(cost("25000.50", "severance"))
    run.read("M1", csat=80.0, error_rate=1.5)
    run.later(days=31)
    run.read("M2", csat=96.0)
    status = run.later(days=30)
    other = Run(REFERENCE)  # no baselines, no business case: no value row
    with Session(engine) as session:
        moved = [
            e.model_copy(update={"transition_id": "t-2", "id": e.id.replace("t-1", "t-2", 1)}) for e in other.audit
        ]
        write_entries(run.audit + moved, session=session)
    facts = {"t-1": facts_of(PLAN, START), "t-2": facts_of(REFERENCE, START)}
    found = analytics(engine, AnalyticsFilter(), facts, run.now)
    [value] = found.value
    assert value.transition_id == "t-1"
    assert status.value is not None
    assert value.kpis == status.value.kpis
    assert value.savings == status.value.savings
    assert value.savings is not None and str(value.savings.net_to_date) == "137047.45"  # as worked out by hand
    text = analytics_text(found)
    assert "VALUE REALIZED" in text and "137,047.45 EUR" in text and "+86,499.50 EUR" in text
    assert re.search(r"t-1 +csat +82 → 90 → 96\n", text) and re.search(r"t-1 +error_rate +3 → 2 → 1.5", text)


class _Handle:
    async def query(self, name: str, result_type: object = None) -> object:
        return {"plan": PLAN, "roster": list(PLAN.people)}[name]


class _Temporal:
    def get_workflow_handle(self, workflow_id: str) -> _Handle:
        return _Handle()


def test_the_analytics_page_draws_the_value_realized_with_its_figures_beside_and_offers_the_costs(tmp_path):
    import uuid
    from datetime import timedelta

    from fastapi.testclient import TestClient

    from bpo.web.app import create_app
    from bpo.web.sessions import COOKIE, start_session
    from infra.db import make_engine, migrate
    from infra.settings import Settings

    engine = make_engine(f"sqlite:///{tmp_path}/audit.db")
    migrate(engine)
    run = Run(PLAN)
    run.do(Approve(gate="plan_ok", by=LI))
    run.do(cost("40000", "travel"))
    run.later(days=31)
    with Session(engine) as session:
        write_entries(run.audit, session=session)
    settings = Settings(BPO_DATA_DIR=tmp_path, BPO_TASK_QUEUE=f"tq-{uuid.uuid4()}", BPO_PROGRAM_OFFICE=LI)
    with TestClient(create_app(settings, _Temporal(), engine)) as client:  # type: ignore[arg-type]
        client.cookies.set(COOKIE, start_session(engine, LI, "web-link", timedelta(hours=1)))
        text = client.get("/analytics").text
        assert text.count('<h2 id="value">Value realized</h2>') == 1  # in the page, once, never in its title
        assert "<title>Analytics · bpo-transition</title>" in text
        assert '<h2 id="trends">KPI trends against SLA, by provider</h2>' in text
        assert "No readings yet, or no plan says whose they are." in text
        assert 'aria-label="Net savings to date against what the business case expected by now"' in text
        assert "<td>40,000.00 EUR</td>" in text  # the costs recorded
        assert '<th scope="row">CSAT</th><td>82.0</td><td>90.0</td><td>—</td>' in text
        assert 'href="/analytics/export/costs.csv"' in text
        costs = client.get("/analytics/export/costs.csv")
        assert costs.status_code == 200 and "40000.0,EUR,travel" in costs.text
