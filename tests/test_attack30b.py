"""attack30b: the portfolio analytics of issue 30 attacked from outside, after the web app began to
keep its figures while the projection stands: trails written as the rules write them (the Run
simulator), stored through the writer, read through `bpo.analytics.portfolio`, the web app and the
exports. Its four findings (a control character that broke the xlsx downloads, the last day a
date holds as `until`, a formula behind a line feed, export times in the server's zone) are
mended and their tests pass, beside what held."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from bpo.analytics import Kept, facts_of, portfolio
from models.analytics import AnalyticsFilter
from tests.rules.sim import LI, PLAN, RAJ, START
from tests.test_attack30 import Temporal, as_person, provider_amended, run_of, story, web_app, write


def token(client: Any, who: str = LI) -> dict[str, str]:
    from bpo.web.sessions import new_api_token

    return {"Authorization": f"Bearer {new_api_token(client.engine, who, 't', 'read', timedelta(hours=1))}"}


def trend(found: Any, kpi: str) -> Any:
    [t] = [t for t in found.kpi_trends if t.kpi == kpi]
    return t


# --- kept figures: worked out again after what changes them ------------------------------------


def test_a_decision_after_the_page_shows_on_the_next_page(tmp_path):
    run = run_of("t-1")
    run.pass_planning()
    with web_app(tmp_path, run) as client:
        headers = token(client)
        first = client.get("/api/analytics", headers=headers).json()
        mark = len(run.audit)
        run.approve("kickoff_held", LI, RAJ, evidence="MIN-7")
        write(client.engine, run.audit[mark:])
        again = client.get("/api/analytics", headers=headers).json()
        assert again != first
        assert any(t["by"] == "gate" and t["key"] == "kickoff_held" for t in again["turnaround"])


def test_a_reading_after_the_page_shows_in_the_trend_at_once(tmp_path):
    run = run_of("t-1")
    run.read("W1", csat=90.0, error_rate=1.0, first_response_hours=3.0)
    with web_app(tmp_path, run) as client:
        headers = token(client)
        first = client.get("/api/analytics", headers=headers).json()
        [csat] = [t for t in first["kpi_trends"] if t["kpi"] == "csat"]
        assert csat["points"][0]["readings"] == 1
        mark = len(run.audit)
        run.read("W2", csat=70.0, error_rate=1.0, first_response_hours=3.0)
        write(client.engine, run.audit[mark:])
        again = client.get("/api/analytics", headers=headers).json()
        [csat] = [t for t in again["kpi_trends"] if t["kpi"] == "csat"]
        assert sum(p["readings"] for p in csat["points"]) == 2


async def test_an_amendment_after_kept_figures_moves_the_provider_filter(engine):
    run = story(run_of("t-1"))
    run.read("W1", csat=88.0, error_rate=2.0, first_response_hours=3.0)
    write(engine, run.audit)
    temporal, kept = Temporal(run), Kept()
    now = run.now + timedelta(days=1)
    old = AnalyticsFilter(provider=PLAN.provider)
    assert [t.transition_id for t in (await portfolio(engine, temporal, old, now, kept)).transitions] == ["t-1"]  # type: ignore[arg-type]
    mark = len(run.audit)
    provider_amended(run, "SouthWind BPO")
    write(engine, run.audit[mark:])
    assert (await portfolio(engine, temporal, old, now + timedelta(seconds=1), kept)).transitions == []  # type: ignore[arg-type]
    new = await portfolio(engine, temporal, AnalyticsFilter(), now + timedelta(seconds=2), kept)  # type: ignore[arg-type]
    assert {t.provider for t in new.kpi_trends} == {"SouthWind BPO"}


async def test_a_roster_change_after_kept_figures_counts_the_new_person(engine):
    from models.commands import ChangeRoster
    from models.plan import Person

    run = run_of("t-1")
    run.pass_planning()
    write(engine, run.audit)
    temporal, kept = Temporal(run), Kept()
    now = run.now
    await portfolio(engine, temporal, AnalyticsFilter(), now, kept)  # type: ignore[arg-type]
    mark = len(run.audit)
    zoe = Person(id="zoe@acme.example", name="Zoe", email="zoe@acme.example", org="client", roles=["sme"])
    run.do(ChangeRoster(by=LI, add=[zoe]))
    run.approve("kickoff_held", LI, RAJ, evidence="MIN-7")
    run.later(hours=5)
    run.tick("process_maps", zoe.id, "email_support", "chat_support")
    write(engine, run.audit[mark:])
    found = await portfolio(engine, temporal, AnalyticsFilter(), run.now, kept)  # type: ignore[arg-type]
    by = {(t.by, t.key): t.spread.count for t in found.turnaround}
    assert by.get(("role", "sme"), 0) == 1


async def test_a_plan_temporal_could_not_read_is_read_when_it_comes_back_despite_kept_figures(engine):
    run = story(run_of("t-1"))
    write(engine, run.audit)
    temporal, kept = Temporal(run), Kept()
    now = run.now + timedelta(days=1)
    temporal.down = True
    away = await portfolio(engine, temporal, AnalyticsFilter(), now, kept)  # type: ignore[arg-type]
    assert away.missing
    temporal.down = False
    back = await portfolio(engine, temporal, AnalyticsFilter(), now + timedelta(seconds=1), kept)  # type: ignore[arg-type]
    assert not back.missing, back.missing
    assert back.transitions[0].planned_go_live is not None


async def test_one_filters_kept_figures_are_not_answered_for_another(engine):
    a = story(run_of("t-1"))
    b = story(run_of("t-2"))
    b.machine.plan = b.machine.plan.model_copy(update={"provider": "SouthWind BPO"})
    write(engine, a.audit + b.audit)
    temporal, kept = Temporal(a, b), Kept()
    now = a.now + timedelta(days=1)
    every = await portfolio(engine, temporal, AnalyticsFilter(), now, kept)  # type: ignore[arg-type]
    assert len(every.transitions) == 2
    south = await portfolio(engine, temporal, AnalyticsFilter(provider="SouthWind BPO"), now, kept)  # type: ignore[arg-type]
    assert [t.transition_id for t in south.transitions] == ["t-2"]
    north = await portfolio(engine, temporal, AnalyticsFilter(provider=PLAN.provider), now, kept)  # type: ignore[arg-type]
    assert [t.transition_id for t in north.transitions] == ["t-1"]
    since = await portfolio(engine, temporal, AnalyticsFilter(since=(START + timedelta(days=1)).date()), now, kept)  # type: ignore[arg-type]
    assert since.transitions == []


def test_the_page_between_two_api_reads_leaves_the_kept_figures_as_they_were(tmp_path):
    """The kept figures are one object answered again: the page (charts, tables) must not change
    what the API answers next."""
    runs = []
    for n in (1, 2):
        run = story(run_of(f"t-{n}"))
        run.read("W1", csat=80.0 + n, error_rate=1.0 + n, first_response_hours=3.0)
        runs.append(run)
    with web_app(tmp_path, *runs) as client:
        headers = token(client)
        first = client.get("/api/analytics", headers=headers).json()
        as_person(client, LI)
        assert client.get("/analytics").status_code == 200
        again = client.get("/api/analytics", headers=headers).json()
        first.pop("at"), again.pop("at")
        assert again == first


# --- KPI trends: met share against each SLA ----------------------------------------------------


def trends_of(engine: Any, *runs: Any, plans: dict[str, Any] | None = None) -> Any:
    from infra.analytics import analytics

    for run in runs:
        write(engine, run.audit)
    facts = {r.audit[0].transition_id: facts_of((plans or {}).get(r.audit[0].transition_id, PLAN), START) for r in runs}
    return analytics(engine, AnalyticsFilter(), facts, runs[0].now + timedelta(days=1))


def test_values_exactly_at_the_sla_meet_it_both_ways(engine):
    run = run_of("t-1")
    run.read("W1", csat=85.0, error_rate=2.0, first_response_hours=4.0)  # each exactly at its SLA
    run.read("W2", csat=84.999, error_rate=2.001, first_response_hours=4.0001)  # each just past it
    found = trends_of(engine, run)
    for kpi in ("csat", "error_rate", "first_response_hours"):
        [point] = trend(found, kpi).points
        assert point.readings == 2 and point.met_share == 0.5, (kpi, point)


def test_lower_is_better_counts_the_low_values_as_met(engine):
    run = run_of("t-1")
    for n, rate in enumerate((0.5, 1.0, 3.0, 9.0)):
        run.read(f"W{n}", csat=90.0, error_rate=rate, first_response_hours=3.0)
    [point] = trend(trends_of(engine, run), "error_rate").points
    assert point.met_share == 0.5


def test_two_transitions_of_one_provider_with_different_slas_each_meet_their_own(engine):
    strict = PLAN.model_copy(
        update={"kpis": [k.model_copy(update={"sla": 95.0}) if k.key == "csat" else k for k in PLAN.kpis]}
    )
    loose = run_of("t-1")
    loose.read("W1", csat=90.0, error_rate=1.0, first_response_hours=3.0)  # meets 85
    tight = run_of("t-2", start=START + timedelta(hours=1), plan=strict)
    tight.read("W1", csat=90.0, error_rate=1.0, first_response_hours=3.0)  # misses 95
    found = trends_of(engine, loose, tight, plans={"t-2": strict})
    t = trend(found, "csat")
    [point] = t.points
    assert point.readings == 2 and point.transitions == 2 and point.met_share == 0.5
    assert t.sla == 95.0, "the newest plan's SLA is the one shown"


def test_a_provider_whose_transitions_disagree_on_the_direction_counts_each_its_own_way(engine):
    flipped = PLAN.model_copy(
        update={"kpis": [k.model_copy(update={"better": "higher", "sla": 2.0}) if k.key == "error_rate" else k
                         for k in PLAN.kpis]}
    )  # fmt: skip
    a = run_of("t-1")
    a.read("W1", csat=90.0, error_rate=1.0, first_response_hours=3.0)  # lower, sla 2: met
    b = run_of("t-2", start=START + timedelta(hours=1), plan=flipped)
    b.read("W1", csat=90.0, error_rate=1.0, first_response_hours=3.0)  # higher, sla 2: missed
    [point] = trend(trends_of(engine, a, b, plans={"t-2": flipped}), "error_rate").points
    assert point.met_share == 0.5


# --- exports ------------------------------------------------------------------------------------


def test_a_note_with_a_control_character_still_downloads_as_xlsx(tmp_path):
    from models.commands import Note

    run = run_of("t-1")
    run.do(Note(text="pasted from a terminal \x07\x0b done", by=LI))
    with web_app(tmp_path, run) as client:
        as_person(client, LI)
        assert client.get("/t/t-1/export/decisions.csv").status_code == 200
        assert client.get("/analytics/export/decisions.xlsx").status_code == 200


def test_every_reading_is_a_row_of_the_export_with_its_zone(tmp_path):
    run = story(run_of("t-1"))
    run.read("W1", csat=88.0, error_rate=2.0, first_response_hours=3.0)
    run.read("W2", csat=86.0, error_rate=1.0, first_response_hours=2.0)
    other = run_of("t-2")
    other.read("W1", csat=80.0, error_rate=3.0, first_response_hours=5.0)
    with web_app(tmp_path, run, other) as client:
        as_person(client, LI)
        body = client.get("/analytics/export/readings.csv")
        assert body.status_code == 200, body.text
        rows = list(csv.DictReader(io.StringIO(body.content.decode("utf-8-sig"))))
        want = sum(len(e.detail.get("values", {})) for r in (run, other) for e in r.audit if e.kind in ("kpi_reading",))
        assert len(rows) == want, (len(rows), want)
        assert all(r["at"].endswith("+00:00") for r in rows), {r["at"] for r in rows}
        assert {r["transition_id"] for r in rows} == {"t-1", "t-2"}


def test_the_export_of_every_kind_answers(tmp_path):
    run = story(run_of("t-1"))
    with web_app(tmp_path, run) as client:
        as_person(client, LI)
        for what in ("decisions", "readings", "raid", "settlements", "escalations", "costs"):
            for fmt in ("csv", "xlsx"):
                assert client.get(f"/analytics/export/{what}.{fmt}").status_code == 200, (what, fmt)


def test_a_formula_behind_a_newline_is_no_formula(tmp_path):
    """What a spreadsheet reads as a formula behind a leading newline in CSV ("\\n=1+1")."""
    from models.commands import Note

    run = run_of("t-1")
    run.do(Note(text='\n=HYPERLINK("http://x.example","y")', by=LI))
    with web_app(tmp_path, run) as client:
        as_person(client, LI)
        body = client.get("/t/t-1/export/decisions.csv")
        cells = [c for row in csv.reader(io.StringIO(body.content.decode("utf-8-sig"))) for c in row]
        assert not [c for c in cells if c.lstrip().startswith("=")], cells


# --- the page and the API answer -----------------------------------------------------------------


def test_odd_filters_answer_in_words_not_500(tmp_path):
    run = story(run_of("t-1"))
    with web_app(tmp_path, run) as client:
        headers = token(client)
        as_person(client, LI)
        for q in ("since=2027-13-01", "until=x", "since=2030-01-01&until=2020-01-01", "program=%25_",
                  "provider=%00", "client=" + "a" * 200, "since=9999-12-31"):  # fmt: skip
            assert client.get(f"/analytics?{q}").status_code in (200, 422), q
            assert client.get(f"/api/analytics?{q}", headers=headers).status_code in (200, 422), q


def test_the_last_day_a_date_holds_as_until_answers_not_500(tmp_path):
    run = story(run_of("t-1"))
    with web_app(tmp_path, run) as client:
        headers = token(client)
        assert client.get("/api/analytics?until=9999-12-31", headers=headers).status_code in (200, 422)
        as_person(client, LI)
        assert client.get("/analytics?until=9999-12-31").status_code in (200, 422)


def test_a_reading_as_small_as_a_float_holds_leaves_the_api_answering(tmp_path):
    run = run_of("t-1")
    run.read("W1", csat=5e-324, error_rate=1.7e308, first_response_hours=0.0)
    with web_app(tmp_path, run) as client:
        as_person(client, LI)
        assert client.get("/analytics").status_code == 200
        assert client.get("/api/analytics", headers=token(client)).status_code == 200


def test_the_export_from_a_server_in_another_zone_writes_times_in_utc(postgres_url):
    """The exports' docstring: times are ISO 8601 with their zone (UTC), whatever the server's zone."""
    from infra.exports import export_rows
    from tests.test_attack30 import zoned_engine

    engine = zoned_engine(postgres_url, "Asia/Tokyo")
    try:
        run = story(run_of("t-1"))
        write(engine, run.audit)
        header, rows = export_rows(engine, "decisions", None)
        at = [row[header.index("at")] for row in rows]
        assert at and all(str(a).endswith("+00:00") for a in at), at[:3]
    finally:
        engine.dispose()


def test_the_cycle_collector_is_on_again_after_pages(tmp_path):
    import gc

    run = story(run_of("t-1"))
    run.read("W1", csat=88.0, error_rate=2.0, first_response_hours=3.0)
    with web_app(tmp_path, run) as client:
        as_person(client, LI)
        for q in ("", "?provider=x", "?since=2020-01-01"):
            assert client.get(f"/analytics{q}").status_code == 200
        assert gc.isenabled()
