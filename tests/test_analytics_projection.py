"""The analytics' projection: the figures read from the rows the projector keeps are the figures
of the whole trail, however the trail came in (in pieces, out of order), on SQLite and
PostgreSQL; the plans are asked of Temporal once, and again only after a roster change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from bpo.analytics import facts_of, portfolio
from infra.analytics import analytics
from infra.analytics_projection import refresh
from infra.audit import write_entries
from models.analytics import AnalyticsFilter
from models.commands import ChangeRoster, Resume
from models.deliveries import AuditEntry
from models.plan import Person
from tests.rules.sim import EVE, LI, MO, PLAN, RAJ, START, Run

FACTS = {"t-1": facts_of(PLAN, START)}


def story() -> Run:
    """A transition that reworks a gate, pauses and reads KPIs: every figure has something to count."""
    run = Run()
    run.pass_planning()
    run.reject("kickoff_held", RAJ)  # rework: the transition waits, paused, for the fix
    run.later(days=3)
    run.do(Resume(by=LI, reason="agenda fixed"))
    run.approve("kickoff_held", LI, RAJ, evidence="MIN-7")
    run.tick("process_maps", EVE, "email_support", "chat_support")
    run.approve("training_signed_off", MO, EVE)
    assert run.read("cert-1", assessment_score=86).phase == "pilot"
    for week in range(1, 5):
        run.read(f"W{week}", csat=80.0 + week, error_rate=2.0, first_response_hours=3.0)
        run.later(days=7)
    return run


def rebuilt(engine: Any, now: datetime, facts: dict[str, Any] = FACTS) -> Any:
    """The figures from a projection folded afresh from every row."""
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM analytics_projection"))
    return analytics(engine, AnalyticsFilter(), facts, now)


def test_a_trail_that_comes_in_pieces_gives_the_figures_of_the_whole(engine):
    run = story()
    rows = list(run.audit)
    now = run.now + timedelta(days=1)
    for cut in (5, 17, 40, len(rows)):  # the projector carries on from where each piece left it
        with Session(engine) as session:
            write_entries(rows[:cut], session=session)
        found = analytics(engine, AnalyticsFilter(), FACTS, now)
    assert found.transitions[0].paused_hours == 72.0, "the rework's three days"
    assert [p.month for t in found.kpi_trends for p in t.points]
    assert found == rebuilt(engine, now)


def test_a_row_dated_before_what_the_projection_holds_is_folded_in_its_place(engine):
    run = story()
    with Session(engine) as session:
        write_entries(run.audit, session=session)
    now = run.now + timedelta(days=1)
    before = analytics(engine, AnalyticsFilter(), FACTS, now)
    # A reading of week 4 dated before week 4's own: in its place, the later one stands.
    early = AuditEntry(id="t-1/late/reading", transition_id="t-1", kind="kpi_reading", phase="pilot", actor=LI,
                       at=START + timedelta(days=1), detail={"period": "W4", "values": {"csat": 10.0}})  # fmt: skip
    with Session(engine) as session:
        write_entries([early], session=session)
    after = analytics(engine, AnalyticsFilter(), FACTS, now)
    assert after.kpi_trends == before.kpi_trends, "taken in last, it would have replaced week 4's csat"
    assert after == rebuilt(engine, now)


class Temporal:
    """Temporal as the portfolio asks it: each transition's plan, counted."""

    def __init__(self, run: Run) -> None:
        self.run, self.asked = run, []

    def get_workflow_handle(self, workflow_id: str) -> Any:
        temporal = self

        class Handle:
            async def query(self, name: str, result_type: object = None) -> object:
                temporal.asked.append((workflow_id, name))
                plan = temporal.run.machine.plan
                return {"plan": plan, "roster": list(plan.people)}[name]

        return Handle()


async def test_the_plans_are_asked_of_temporal_once_and_again_after_a_roster_change(engine):
    run = story()
    with Session(engine) as session:
        write_entries(run.audit, session=session)
    temporal = Temporal(run)
    now = datetime.now(UTC)
    first = await portfolio(engine, temporal, AnalyticsFilter(provider=PLAN.provider), now)  # type: ignore[arg-type]
    assert [t.transition_id for t in first.transitions] == ["t-1"] and temporal.asked
    temporal.asked.clear()
    again = await portfolio(engine, temporal, AnalyticsFilter(provider=PLAN.provider), now)  # type: ignore[arg-type]
    assert temporal.asked == [] and again == first
    assert (await portfolio(engine, temporal, AnalyticsFilter(provider="Elsewhere"), now)).transitions == []  # type: ignore[arg-type]
    mark = len(run.audit)
    run.do(
        ChangeRoster(by=LI, add=[Person(id="zoe", name="Zoe", email="zoe@acme.example", org="client", roles=["sme"])])
    )
    with Session(engine) as session:
        write_entries(run.audit[mark:], session=session)
    await portfolio(engine, temporal, AnalyticsFilter(), now)  # type: ignore[arg-type]
    assert {tid for tid, _ in temporal.asked} == {"t-1"}


def test_the_projector_writes_only_transitions_behind_their_head(engine):
    run = story()
    with Session(engine) as session:
        write_entries(run.audit, session=session)
    assert refresh(engine) == 1
    assert refresh(engine) == 0, "nothing new: nothing read again"


def test_an_audit_database_of_before_gets_its_projection_filled_on_the_first_read(tmp_path):
    """A database migrated before the projection existed: the migration adds the empty table, the
    first read folds every transition already in the trail, and the downgrade takes the table
    away and leaves the trail."""
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    from infra.db import MIGRATIONS, make_engine

    url = f"sqlite:///{tmp_path / 'audit.db'}"
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    old = sa.create_engine(url)
    with old.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0010_digest_refusals")
    run = story()
    with Session(old) as session:
        write_entries(run.audit, session=session)
    engine = make_engine(url)
    found = analytics(engine, AnalyticsFilter(), FACTS, run.now)
    assert [t.transition_id for t in found.transitions] == ["t-1"]
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0010_digest_refusals")
        assert "analytics_projection" not in sa.inspect(connection).get_table_names()
        assert connection.execute(sa.text("SELECT count(*) FROM audit_record")).scalar() == len(run.audit)


def test_a_new_transition_and_one_carried_on_in_the_same_round_are_both_whole(engine):
    run = story()
    rows = list(run.audit)
    now = run.now + timedelta(days=1)
    with Session(engine) as session:
        write_entries(rows[:-3], session=session)
    analytics(engine, AnalyticsFilter(), FACTS, now)
    second = [e.model_copy(update={"transition_id": "t-2", "id": e.id.replace("t-1", "t-2", 1)}) for e in rows]
    with Session(engine) as session:  # t-1 carried on from its place, t-2 read from its first row
        write_entries(rows[-3:] + second, session=session)
    both = FACTS | {"t-2": FACTS["t-1"]}
    found = analytics(engine, AnalyticsFilter(), both, now)
    one, two = found.transitions
    assert one.model_copy(update={"transition_id": "t-2"}) == two
    assert found == rebuilt(engine, now, both)


def test_a_reading_no_rule_writes_is_left_out_and_the_projection_goes_on(tmp_path):
    """A row no rule writes (a reading of NaN, which SQLite's JSON keeps and PostgreSQL's
    refuses) in one transition: the value is left out, and both transitions are projected."""
    from infra.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    run = story()
    poisoned = [e.model_copy(update={"transition_id": "t-2", "id": e.id.replace("t-1", "t-2", 1)}) for e in run.audit]
    poisoned.append(AuditEntry(id="t-2/odd", transition_id="t-2", kind="kpi_reading", phase="pilot", actor=LI,
                               at=run.now, detail={"period": "W9", "values": {"csat": float("nan")}}))  # fmt: skip
    with Session(engine) as session:
        write_entries(run.audit + poisoned, session=session)
    found = analytics(engine, AnalyticsFilter(), FACTS | {"t-2": FACTS["t-1"]}, run.now)
    assert [t.transition_id for t in found.transitions] == ["t-1", "t-2"]
    medians = [p.median for t in found.kpi_trends for p in t.points]
    assert medians and all(m == m for m in medians), "no NaN among the medians"


def test_a_fold_of_an_older_form_is_folded_again_before_it_is_read(engine):
    """A release that changes what a fold keeps gives it a new shape: rows of the old one, up to
    their head and unreadable as they are, are folded again from the trail."""
    run = story()
    with Session(engine) as session:
        write_entries(run.audit, session=session)
    now = run.now + timedelta(days=1)
    first = analytics(engine, AnalyticsFilter(), FACTS, now)
    with engine.begin() as connection:
        connection.execute(text("UPDATE analytics_projection SET shape = 0, fold = :old"), {"old": '{"periods": {}}'})
    assert analytics(engine, AnalyticsFilter(), FACTS, now) == first


async def test_figures_kept_by_the_web_app_are_worked_out_again_once_the_trail_moves(engine):
    """The web app keeps the figures it worked out (`bpo.analytics.Kept`): asked again they come
    back as they were, and a decision written since makes them be worked out again."""
    from bpo.analytics import Kept

    run = story()
    mark = len(run.audit) - 2
    with Session(engine) as session:
        write_entries(run.audit[:mark], session=session)
    temporal, kept, now = Temporal(run), Kept(), run.now + timedelta(days=1)
    first = await portfolio(engine, temporal, AnalyticsFilter(), now, kept)  # type: ignore[arg-type]
    temporal.asked.clear()
    assert await portfolio(engine, temporal, AnalyticsFilter(), now, kept) is first  # type: ignore[arg-type]
    with Session(engine) as session:
        write_entries(run.audit[mark:], session=session)
    moved = await portfolio(engine, temporal, AnalyticsFilter(), now, kept)  # type: ignore[arg-type]
    assert moved is not first and moved == rebuilt(engine, now)
    later = now + timedelta(minutes=5)  # the hours waited grow with the clock alone
    assert (await portfolio(engine, temporal, AnalyticsFilter(), later, kept)).at == later  # type: ignore[arg-type]


def test_the_web_app_keeps_the_figures_of_a_few_filters_only():
    from bpo.analytics import KEPT_FILTERS, Kept
    from models.analytics import Analytics

    kept, now = Kept(), datetime.now(UTC)
    for day in range(KEPT_FILTERS * 3):  # someone trying every day of a month and more
        query = AnalyticsFilter(since=(START + timedelta(days=day)).date())
        kept.keep(query, (1, 1, 0), now, Analytics(filter=query, at=now))
    assert len(kept.by_filter) == KEPT_FILTERS
    newest = AnalyticsFilter(since=(START + timedelta(days=KEPT_FILTERS * 3 - 1)).date())
    assert kept.get(newest, (1, 1, 0), now) is not None and kept.get(AnalyticsFilter(), (1, 1, 0), now) is None
