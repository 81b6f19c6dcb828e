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
