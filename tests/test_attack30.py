"""attack30: the portfolio's analytics projection attacked from outside, as a program office, a
plan author or an approver could: trails written through the writer as the rules write them (the
Run simulator), figures read through `infra.analytics`, `bpo.analytics.portfolio`, the web app
and the exports. Each finding (a new transition lost beside one carried on, a plan forgotten while
Temporal was away, a stale provider filter, months in the server's zone, a gate an amendment
added dated from its phase's start, roster people without roles, loss bars wider than the
chart, a note that contradicted the table) is mended and its test passes, beside what held."""

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
from models.deliveries import AuditEntry, Deliveries
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


# --- plan facts as Temporal gives them -------------------------------------------------------


class Temporal:
    """Temporal as the portfolio asks it: each transition's plan (the workflow's ``plan`` query
    answers ``machine.plan``, its ``roster`` query the people on the roster now), counted; down
    while ``down`` is set, as a worker away or a query timing out answers."""

    def __init__(self, *runs: Run) -> None:
        self.by_id = {run_id(r): r for r in runs}
        self.asked: list[str] = []
        self.down = False

    def get_workflow_handle(self, workflow_id: str) -> Any:
        temporal = self

        class Handle:
            async def query(self, name: str, result_type: object = None) -> object:
                from temporalio.service import RPCError, RPCStatusCode

                temporal.asked.append(workflow_id)
                if temporal.down:
                    raise RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b"")
                machine = temporal.by_id[workflow_id].machine
                answers = {"plan": machine.plan, "roster": list(machine.state.people)}
                return answers[name] if name != "deliveries" else Deliveries(pending=[], failed=[])

            async def execute_update(self, name: str, result_type: object = None) -> int:
                await self.query("deliveries")  # down as the queries are
                return 0  # the reader's audit_written: nothing waits

        return Handle()


def run_id(run: Run) -> str:
    return run.audit[0].transition_id


async def test_a_moment_temporal_is_away_does_not_forget_a_plan_for_good(engine):
    run = story(run_of("t-1"))
    write(engine, run.audit)
    temporal = Temporal(run)
    now = run.now + timedelta(days=1)
    temporal.down = True
    away = await portfolio(engine, temporal, AnalyticsFilter(), now)  # type: ignore[arg-type]
    assert away.missing, "said: without their plan"
    temporal.down = False
    back = await portfolio(engine, temporal, AnalyticsFilter(provider=PLAN.provider), now)  # type: ignore[arg-type]
    assert [t.transition_id for t in back.transitions] == ["t-1"], back.missing


async def test_a_transition_temporal_no_longer_knows_is_said_to_lack_its_plan(engine):
    """Held: an id Temporal does not know is shown without its plan, in words, not an error."""
    run = story(run_of("t-1"))
    write(engine, run.audit)

    class Gone(Temporal):
        def get_workflow_handle(self, workflow_id: str) -> Any:
            class Handle:
                async def query(self, name: str, result_type: object = None) -> object:
                    from temporalio.service import RPCError, RPCStatusCode

                    raise RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b"")

            return Handle()

    temporal = Gone()
    found = await portfolio(engine, temporal, AnalyticsFilter(), run.now)  # type: ignore[arg-type]
    assert [t.transition_id for t in found.transitions] == ["t-1"]
    assert any("t-1" in m and "without their plan" in m for m in found.missing)


def provider_amended(run: Run, provider: str) -> None:
    """An amendment naming another provider, proposed and approved by the sponsor."""
    from models.commands import Amend, Approve

    plan = run.machine.plan.model_copy(update={"provider": provider})
    run.do(Amend(plan=plan, reason="the contract moved to another provider", by=LI))
    run.do(Approve(gate="amendment_1", by="dana@acme.example"))
    assert run.machine.plan.provider == provider


async def test_a_filter_on_the_provider_an_amendment_named_shows_the_transition(engine):
    run = story(run_of("t-1"))
    write(engine, run.audit)
    temporal = Temporal(run)
    now = run.now + timedelta(days=1)
    first = await portfolio(engine, temporal, AnalyticsFilter(provider=PLAN.provider), now)  # type: ignore[arg-type]
    assert [t.transition_id for t in first.transitions] == ["t-1"]
    mark = len(run.audit)
    provider_amended(run, "SouthWind BPO")
    write(engine, run.audit[mark:])
    found = await portfolio(engine, temporal, AnalyticsFilter(provider="SouthWind BPO"), now)  # type: ignore[arg-type]
    assert [t.transition_id for t in found.transitions] == ["t-1"]


async def test_after_an_amendment_the_old_provider_no_longer_shows_the_transition(engine):
    """Held: the plan is asked again after an amendment, so the old provider's filter drops it and
    an unfiltered read shows the new provider's trends."""
    run = story(run_of("t-1"))
    run.read("W1", csat=88.0, error_rate=2.0, first_response_hours=3.0)
    write(engine, run.audit)
    temporal = Temporal(run)
    now = run.now + timedelta(days=1)
    await portfolio(engine, temporal, AnalyticsFilter(), now)  # type: ignore[arg-type]
    mark = len(run.audit)
    provider_amended(run, "SouthWind BPO")
    write(engine, run.audit[mark:])
    old = await portfolio(engine, temporal, AnalyticsFilter(provider=PLAN.provider), now)  # type: ignore[arg-type]
    assert old.transitions == []
    every = await portfolio(engine, temporal, AnalyticsFilter(), now)  # type: ignore[arg-type]
    assert {t.provider for t in every.kpi_trends} == {"SouthWind BPO"}


async def test_a_person_added_to_the_roster_counts_under_their_role_and_org(engine):
    from models.commands import ChangeRoster
    from models.plan import Person

    run = run_of("t-1")
    run.pass_planning()
    zoe = Person(id="zoe@acme.example", name="Zoe", email="zoe@acme.example", org="client", roles=["sme"])
    run.do(ChangeRoster(by=LI, add=[zoe]))
    run.approve("kickoff_held", LI, RAJ, evidence="MIN-7")
    run.later(hours=5)
    run.tick("process_maps", zoe.id, "email_support", "chat_support")
    write(engine, run.audit)
    found = await portfolio(engine, Temporal(run), AnalyticsFilter(), run.now)  # type: ignore[arg-type]
    by = {(t.by, t.key): t.spread.count for t in found.turnaround}
    assert by[("person", zoe.id)] == 1
    assert by.get(("role", "sme"), 0) == 1, "zoe is the only sme who decided"


# --- PostgreSQL answering in its session's zone ----------------------------------------------


def zoned_engine(postgres_url: str, zone: str) -> Any:
    """The session's database, every connection in ``zone`` (a server set up in that zone, or a
    role's ``SET timezone``), emptied."""
    from infra.db import make_engine

    sep = "&" if "?" in postgres_url else "?"
    engine = make_engine(f"{postgres_url}{sep}options=-c%20timezone%3D{zone.replace('/', '%2F')}")
    with engine.begin() as connection:
        for table in ("audit_record", "audit_head", "analytics_projection"):
            connection.exec_driver_sql(f"DELETE FROM {table}")  # noqa: S608 - fixed names
    return engine


def test_a_reading_late_on_the_last_day_of_a_month_trends_in_that_month_whatever_the_servers_zone(postgres_url):
    engine = zoned_engine(postgres_url, "Asia/Tokyo")
    try:
        run = run_of("t-1", start=datetime(2027, 1, 30, 9, tzinfo=UTC))
        run.later(hours=38, minutes=30)  # 31 January, 23:30 UTC
        run.read("2027-01", csat=90.0, error_rate=1.0, first_response_hours=3.0)
        write(engine, run.audit)
        facts = {"t-1": facts_of(PLAN, run.audit[0].at)}
        found = analytics(engine, AnalyticsFilter(), facts, run.now)
        months = {p.month for t in found.kpi_trends for p in t.points}
        assert months == {"2027-01"}, months
        assert found.transitions[0].started_at.utcoffset() == timedelta(0)
    finally:
        engine.dispose()


# --- the web app ------------------------------------------------------------------------------


def web_app(tmp_path: Any, *runs: Run, office: str = LI) -> Any:
    """The web app over the runs' trails (SQLite), Temporal answering each run's plan."""
    import uuid

    from fastapi.testclient import TestClient

    from bpo.web.app import create_app
    from infra.db import make_engine
    from infra.settings import Settings

    engine = make_engine(f"sqlite:///{tmp_path}/audit.db")
    for run in runs:
        write(engine, run.audit)
    settings = Settings(BPO_DATA_DIR=tmp_path, BPO_TASK_QUEUE=f"tq-{uuid.uuid4()}", BPO_PROGRAM_OFFICE=office)
    client = TestClient(create_app(settings, Temporal(*runs), engine))  # type: ignore[arg-type]
    client.engine = engine  # type: ignore[attr-defined]
    return client


def as_person(client: Any, address: str) -> Any:
    from bpo.web.sessions import COOKIE, start_session

    client.cookies.set(COOKIE, start_session(client.engine, address, "web-link", timedelta(hours=1)))
    return client


def widths(svg: str) -> list[float]:
    import re

    return [float(w) for w in re.findall(r'<rect x="190" y="\d+" width="([0-9.\-]+)" height="(?:12|5)"', svg)]


def test_the_value_chart_before_go_live_draws_no_bar_wider_than_the_chart(tmp_path):
    from decimal import Decimal

    from bpo.analytics_charts import BAR_W
    from models.commands import RecordCost
    from tests.rules.test_value_rules import LI as MANAGER
    from tests.rules.test_value_rules import PLAN as VALUED

    run = run_of("v-1", plan=VALUED)
    run.do(RecordCost(amount=Decimal("50000"), category="travel", note="site visits", by=MANAGER, via="cli"))
    with web_app(tmp_path, run, office=MANAGER) as client:
        page = as_person(client, MANAGER).get("/analytics")
        assert page.status_code == 200, page.text
        svg = page.text[page.text.index("Net savings to date") - 400 :]
        svg = svg[: svg.index("</svg>")]
        found = widths(svg)
        assert found and max(found) <= BAR_W, found


def test_the_analytics_page_and_api_refuse_someone_outside_the_program_office(tmp_path):
    """Held: a sponsor on the roster (not the office) gets 403 from the page, the API and the
    portfolio's downloads, and a stranger gets no transition's download."""
    run = story(run_of("t-1"))
    with web_app(tmp_path, run) as client:
        as_person(client, "dana@acme.example")
        assert client.get("/analytics").status_code == 403
        assert client.get("/analytics/export/decisions.csv").status_code == 403
        from bpo.web.sessions import new_api_token

        token = new_api_token(client.engine, "dana@acme.example", "t", "read", timedelta(hours=1))
        assert client.get("/api/analytics", headers={"Authorization": f"Bearer {token}"}).status_code == 403
        assert client.get("/t/t-1/export/decisions.csv").status_code == 200, "on its roster"
        as_person(client, "someone@elsewhere.example")
        assert client.get("/t/t-1/export/decisions.csv").status_code in (403, 404)
        assert client.get("/t/t-1/export/costs.xlsx").status_code in (403, 404)


def test_a_formula_typed_by_a_person_is_text_in_both_downloads(tmp_path):
    """Held: a note, a rejection's reason, a RAID item and a cost's note that start as a formula
    reach the CSV and the xlsx as text."""
    import csv
    import io
    from decimal import Decimal

    from openpyxl import load_workbook

    from models.commands import Note, RaidAdd, RecordCost
    from tests.rules.test_value_rules import LI as MANAGER
    from tests.rules.test_value_rules import PLAN as VALUED

    evil = ['=HYPERLINK("http://x.example","y")', "+1+1", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1"]
    run = run_of("v-1", plan=VALUED)
    for text_ in evil:
        run.do(Note(text=text_, by=MANAGER))
        run.do(RecordCost(amount=Decimal("10"), category="travel", note=text_, by=MANAGER, via="cli"))
    run.do(RaidAdd(kind="risk", title=evil[0], owner=MANAGER, by=MANAGER, severity="high"))
    with web_app(tmp_path, run, office=MANAGER) as client:
        as_person(client, MANAGER)
        for what in ("decisions", "costs", "raid"):
            body = client.get(f"/t/v-1/export/{what}.csv")
            assert body.status_code == 200, body.text
            cells = [c for row in csv.reader(io.StringIO(body.content.decode("utf-8-sig"))) for c in row]
            assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], what
            sheet = load_workbook(io.BytesIO(client.get(f"/t/v-1/export/{what}.xlsx").content)).active
            for row in sheet.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", (what, cell.value)


# --- amendments -------------------------------------------------------------------------------


async def test_a_gate_an_amendment_adds_waits_from_when_it_was_added(engine):
    from models.commands import Amend, Approve
    from tests.rules.sim import DANA, plan_with

    run = run_of("t-1")
    run.pass_planning()
    assert run.status().phase == "mobilization"
    run.later(days=10)
    ahead = plan_with(
        "        evidence: required\n",
        "        evidence: required\n      - key: site_visit\n        kind: approval\n"
        "        approvers: {roles: [program_manager]}\n",
    )
    run.do(Amend(plan=ahead, reason="the client asked for a site visit", by=LI))
    run.do(Approve(gate="amendment_1", by=DANA))
    added = run.now
    run.later(days=1)
    write(engine, run.audit)
    found = await portfolio(engine, Temporal(run), AnalyticsFilter(), run.now)  # type: ignore[arg-type]
    [visit] = [w for w in found.waiting if w.gate == "site_visit"]
    assert visit.since == added and visit.waited_hours == 24.0, visit


# --- the command line -------------------------------------------------------------------------


async def test_bpo_analytics_without_temporal_says_what_it_knows_of_the_plans(tmp_path):
    import json
    import subprocess
    from pathlib import Path

    from infra.db import make_engine

    root = Path(__file__).resolve().parents[1]
    data = tmp_path / "data"
    engine = make_engine(f"sqlite:///{data}/audit.db")
    run = story(run_of("t-1"))
    write(engine, run.audit)
    await portfolio(engine, Temporal(run), AnalyticsFilter(), run.now)  # type: ignore[arg-type]  # the web app read the plans
    done = subprocess.run(
        [str(root / ".venv" / "bin" / "bpo"), "analytics", "--json"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
        env={"PATH": "/usr/bin:/bin", "BPO_DATA_DIR": str(data), "TEMPORAL_ADDRESS": "127.0.0.1:1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["transitions"][0]["planned_go_live"] is not None, "the kept plan's go-live"
    assert not any("every plan is unknown" in m for m in found["missing"]), found["missing"]


def test_two_projectors_at_once_write_the_figures_of_one(engine):
    """Held: the web app's projector and `bpo analytics` carrying the projection on together (many
    transitions, threads) end with the figures of a projection folded afresh."""
    from concurrent.futures import ThreadPoolExecutor

    runs = [story(run_of(f"t-{n}")) for n in range(12)]
    for run in runs:
        write(engine, run.audit[:9])
    refresh(engine)
    for run in runs:
        write(engine, run.audit[9:])
    with ThreadPoolExecutor(4) as pool:
        done = list(pool.map(lambda _: refresh(engine), range(4)))
    assert sum(done) >= 12
    facts = {f"t-{n}": facts_of(PLAN, START) for n in range(12)}
    now = runs[0].now + timedelta(days=1)
    assert analytics(engine, AnalyticsFilter(), facts, now) == rebuilt(engine, facts, now)


def test_readings_as_large_as_a_float_holds_leave_the_page_and_the_api_answering(tmp_path):
    """Held: two transitions of one provider reading the largest finite CSAT a float holds (their
    median overflows) still get a page and a JSON answer, not an error."""
    runs = []
    for n in (1, 2):
        run = run_of(f"t-{n}")
        run.read("W1", csat=1.7e308, error_rate=1.7e308, first_response_hours=1.7e308)
        runs.append(run)
    with web_app(tmp_path, *runs) as client:
        as_person(client, LI)
        assert client.get("/analytics").status_code == 200
        from bpo.web.sessions import new_api_token

        token = new_api_token(client.engine, LI, "t", "read", timedelta(hours=1))
        api = client.get("/api/analytics", headers={"Authorization": f"Bearer {token}"})
        assert api.status_code == 200, api.text
        assert [t["kpi"] for t in api.json()["kpi_trends"]]


def test_someone_taken_off_the_roster_downloads_that_transition_no_more(tmp_path):
    """Held: a person `bpo roster --remove` took off is refused its downloads the next moment."""
    from models.commands import ChangeRoster

    run = story(run_of("t-1"))
    with web_app(tmp_path, run) as client:
        as_person(client, EVE)
        assert client.get("/t/t-1/export/readings.csv").status_code == 200
        run.do(ChangeRoster(by=LI, remove=[EVE]))
        assert client.get("/t/t-1/export/readings.csv").status_code == 403
        assert client.get("/t/t-1/export/decisions.xlsx").status_code == 403


def test_a_cancelled_transition_waits_on_nothing_and_stops_its_pause(engine):
    """Held: a transition cancelled while paused shows no gate waiting and its pause ends there."""
    from models.commands import Cancel, Pause

    run = run_of("t-1")
    run.pass_planning()
    run.do(Pause(by=LI, reason="budget review"))
    run.later(hours=10)
    run.do(Cancel(by="dana@acme.example", reason="the business was sold"))
    write(engine, run.audit)
    facts = {"t-1": facts_of(PLAN, START)}
    found = analytics(engine, AnalyticsFilter(), facts, run.now + timedelta(days=30))
    assert found.waiting == []
    assert found.transitions[0].paused_hours == 10.0
