"""attack30: the portfolio's analytics projection attacked from outside, as a program office, a
plan author or an approver could: trails written through the writer as the rules write them (the
Run simulator), figures read through `infra.analytics`, `bpo.analytics.portfolio`, the web app
and the exports. A finding is an xfail (strict) test that fails while the fault stands; what held
passes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session

from bpo.analytics import facts_of, portfolio
from infra.analytics import analytics
from infra.analytics_projection import refresh
from infra.audit import write_entries
from models.analytics import AnalyticsFilter
from models.deliveries import AuditEntry
from tests.rules.sim import EVE, LI, MO, PLAN, RAJ, START, Run
from workflows.rules import Machine, every_change


def run_of(transition_id: str, start: datetime = START, plan: Any = PLAN) -> Run:
    """A Run of ``plan`` under its own transition id (the simulator names every run t-1)."""
    run = Run(plan, start=start)
    run.machine = Machine.start(plan, transition_id, start, every_change)
    run.audit, run.notices = [], []
    run._collect()
    return run


def write(engine: Any, rows: list[AuditEntry]) -> None:
    with Session(engine) as session:
        write_entries(rows, session=session)


def story(run: Run) -> Run:
    """Planning passed, a rework and a pause, mobilization passed, KPIs read."""
    run.pass_planning()
    run.reject("kickoff_held", RAJ)
    run.later(days=3)
    from models.commands import Resume

    run.do(Resume(by=LI, reason="agenda fixed"))
    run.approve("kickoff_held", LI, RAJ, evidence="MIN-7")
    run.tick("process_maps", EVE, "email_support", "chat_support")
    run.approve("training_signed_off", MO, EVE)
    run.read("cert-1", assessment_score=86)
    return run


def rebuilt(engine: Any, facts: dict[str, Any], now: datetime) -> Any:
    """The figures of a projection folded afresh from every row."""
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM analytics_projection"))
    return analytics(engine, AnalyticsFilter(), facts, now)


# --- A: a new transition projected in the same pass as one already projected ------------------


@pytest.mark.xfail(
    strict=True,
    reason="attack30 A: _rows reads every transition of a batch from the lowest place any KEPT one "
    "stands at (_floor ignores new ones), so a transition new to the projection loses its first rows "
    "when projected beside an older one that moved on: it vanishes from the analytics for good",
)
def test_a_transition_started_while_another_moves_on_is_in_the_analytics(engine):
    old = story(run_of("old-1"))
    write(engine, old.audit)
    now = old.now + timedelta(days=1)
    facts = {"old-1": facts_of(PLAN, START), "new-1": facts_of(PLAN, START + timedelta(days=30))}
    assert refresh(engine) == 1  # the projector (the web app's background) takes in old-1
    mark = len(old.audit)
    old.read("W1", csat=88.0, error_rate=2.0, first_response_hours=3.0)  # old-1 moves on ...
    new = run_of("new-1", start=START + timedelta(days=30))  # ... while new-1 starts
    new.pass_planning()
    write(engine, old.audit[mark:] + new.audit)
    found = analytics(engine, AnalyticsFilter(), facts, now + timedelta(days=40))
    assert [t.transition_id for t in found.transitions] == ["new-1", "old-1"]
    assert found == rebuilt(engine, facts, now + timedelta(days=40))


def test_transitions_projected_one_pass_at_a_time_match_a_rebuild(engine):
    """Held: a transition projected, carried on alone, matches the projection folded afresh."""
    old = story(run_of("old-1"))
    rows = old.audit
    facts = {"old-1": facts_of(PLAN, START)}
    for cut in (3, 11, len(rows)):
        write(engine, rows[:cut])
        refresh(engine)
    now = old.now + timedelta(days=1)
    assert analytics(engine, AnalyticsFilter(), facts, now) == rebuilt(engine, facts, now)
