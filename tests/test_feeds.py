"""KPI feeds on the time-skipping server: a pilot's KPI gate passes on readings pulled from a
real loopback HTTP server alone, weekly for a quarter; an outage is reported as "no data from
feed" to the KPI's reporters, and the recovery fills the period."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from infra.audit import read_trail
from infra.db import make_engine
from infra.settings import deployment_connections
from models.commands import PullFeed, RecordReadings
from models.feeds import bounds, next_period, period_of
from models.plan import Plan
from models.plan_loader import parse_plan
from tests.receivers import Served, document_server

PLAN = Path(__file__).parent / "plans" / "feeds.yaml"
PAT, QUINN = "pat@acme.example", "quinn@northwind.example"
GOOD = {"csat": 91.5, "handle_time": {"average": 380}}


def feed_plan(base: str, hook: str) -> Plan:
    return parse_plan(PLAN.read_text().replace("{base}", base).replace("{hook}", hook), env={}).plan


@pytest.fixture
def settings(settings):
    """The shared settings, letting the worker reach this file's loopback feed and webhook."""
    settings.fetch_allow_text = "127.0.0.0/8"
    return settings


@pytest.fixture
def feed():
    with document_server() as (base, served):
        yield base, served


def serve_weeks(served: Served, first: str, count: int, data: dict = GOOD, changing: bool = False) -> list[str]:
    """Serve ``count`` weeks from ``first``; ``changing``: CSAT rises a point a week."""
    labels, label = [], first
    for n in range(count):
        served.json(f"/weeks/{label}.json", {**data, "csat": data["csat"] + n} if changing else data)
        labels.append(label)
        label = next_period(label, "weekly")
    return labels


def trail(settings, transition_id: str):
    with Session(make_engine(settings.audit_url)) as session:
        return list(read_trail(transition_id, session=session))


async def until_written(t, settings, kind: str, count: int = 1):
    for _ in range(100):
        rows = [r for r in trail(settings, t.id) if r.kind == kind]
        if len(rows) >= count:
            return rows
        await t.sleep(seconds=1)
    raise AssertionError(f"fewer than {count} {kind} rows written")


async def past_weeks(t, first: str, count: int = 1) -> None:
    """Sleep until a day after the ``count``th week from ``first`` ends: its pull (two hours after
    the end, then its retries for six) is done and the next week's is days away, whatever weekday
    the test starts on (a start late on a Sunday, and a flat eight days, saw two weeks pulled; a
    start on a Sunday, and a flat 29 days, five)."""
    started = (await t.status()).started_at
    end = bounds(first, "weekly")[1] + timedelta(days=7 * (count - 1) + 1)
    await t.sleep(seconds=(end - started).total_seconds())


async def test_the_pilot_gate_passes_on_feed_readings_alone_and_a_quarter_is_pulled_weekly(
    launch, feed, hook, settings
):
    base, served = feed
    t = await launch(feed_plan(base, hook[0]))
    status = await t.status()
    first = status.feeds["contact_centre"].next_period
    weeks = serve_weeks(served, first, 14, changing=True)
    assert first == period_of(status.started_at, "weekly")
    # The first week ends, then two hours for the source to settle; one week is not two in a row.
    await past_weeks(t, first)
    status = await t.status()
    assert status.phase == "pilot" and t.gate(status, "pilot_kpis_met").progress == "1/2 periods"
    await t.sleep(days=7)
    status = await t.status()
    assert status.phase == "go_live", "two weeks of readings from the feed pass the gate, nobody typed one"
    readings = await until_written(t, settings, "kpi_reading", 2)
    assert {r.via for r in readings} == {"feed"}
    assert readings[0].detail["feed"] == "contact_centre"
    assert [r.detail["values"]["csat"] for r in readings] == [91.5, 92.5], "each week's own figures"
    assert len(readings[0].detail["sha256"]) == 64
    # The rest of the quarter: one pull a week, each for the week just ended.
    await t.sleep(days=7 * 11)
    status = await t.status()
    fs = status.feeds["contact_centre"]
    assert not fs.missing and not fs.asking
    assert [served.hits[f"/weeks/{label}.json"] for label in weeks] == [1] * 13 + [0], "each week fetched once"
    assert fs.last_sha256 == hashlib.sha256(served.files[f"/weeks/{weeks[12]}.json"][2]).hexdigest()
    assert bounds(fs.next_period, "weekly")[0] > status.started_at + timedelta(days=7 * 12)


async def test_an_outage_is_reported_as_no_data_and_the_recovery_fills_the_period(launch, feed, hook, settings):
    base, served = feed
    t = await launch(feed_plan(base, hook[0]))
    first = (await t.status()).feeds["contact_centre"].next_period
    weeks = serve_weeks(served, first, 4)
    served.down = True
    await past_weeks(t, first)  # the first week's pull fails, and is tried again for six hours
    status = await t.status()
    fs = status.feeds["contact_centre"]
    assert fs.missing == [weeks[0]] and "HTTP 503" in (fs.last_problem or "")
    assert served.hits[f"/weeks/{weeks[0]}.json"] > 3, "tried again with growing pauses"
    told = [n for n in hook[1] if n["body"].get("kind") == "feed_no_data"]
    assert told and "no data from feed" in told[0]["body"]["subject"]
    assert {r["id"] for r in told[0]["body"]["recipients"]} == {PAT, QUINN}
    served.down = False
    await t.sleep(days=7)  # the next pull asks for the missing week too
    status = await t.status()
    assert status.phase == "go_live", "the recovered week and the next make two in a row"
    assert not status.feeds["contact_centre"].missing
    periods = [r.detail["period"] for r in await until_written(t, settings, "kpi_reading", 2)]
    assert sorted(periods) == weeks[:2]
    assert len([n for n in hook[1] if n["body"].get("kind") == "feed_no_data"]) == 1, "told once"


async def test_an_outage_of_weeks_crosses_continue_as_new_and_every_week_is_filled(launch, feed, hook, settings):
    base, served = feed
    t = await launch(feed_plan(base, hook[0]))
    first = (await t.status()).feeds["contact_centre"].next_period
    weeks = serve_weeks(served, first, 5, {"csat": 70.0, "handle_time": {"average": 380}})  # misses: the gate stays
    served.down = True
    await past_weeks(t, first, 4)
    status = await t.status()
    assert status.runs > 1, "the retries' history ran past the budget: the run continued as new"
    assert status.feeds["contact_centre"].missing == weeks[:4]
    served.down = False
    await t.sleep(days=7)
    status = await t.status()
    assert not status.feeds["contact_centre"].missing
    periods = [r.detail["period"] for r in await until_written(t, settings, "kpi_reading", 5)]
    assert sorted(periods) == weeks, "the four weeks of the outage and the next, each once"
    told = [n["body"]["subject"] for n in hook[1] if n["body"].get("kind") == "feed_no_data"]
    assert sorted(told) == sorted(f"[Acme Retail] no data from feed 'contact_centre' for {w}" for w in weeks[:4])


async def test_a_reading_recorded_by_hand_in_an_outage_stands(launch, feed, hook, settings):
    base, served = feed
    t = await launch(feed_plan(base, hook[0]))
    first = (await t.status()).feeds["contact_centre"].next_period
    weeks = serve_weeks(served, first, 3, {"csat": 70.0, "handle_time": {"average": 380}})
    served.down = True
    await past_weeks(t, first)
    await t.do(RecordReadings(period=weeks[0], values={"csat": 90, "aht": 400}, by=QUINN))
    served.down = False
    await t.sleep(days=7)
    readings = await until_written(t, settings, "kpi_reading", 2)
    by_period = {r.detail["period"]: r for r in readings}
    assert by_period[weeks[0]].via is None and by_period[weeks[0]].detail["values"]["csat"] == 90
    assert by_period[weeks[1]].via == "feed" and by_period[weeks[1]].detail["values"]["csat"] == 70


async def test_pull_now_fetches_ended_periods_named_and_refuses_one_under_way(launch, feed, hook):
    base, served = feed
    t = await launch(feed_plan(base, hook[0]))
    now = datetime.now(UTC)
    before = [period_of(now - timedelta(days=14), "weekly"), period_of(now - timedelta(days=7), "weekly")]
    for label in before:
        served.json(f"/weeks/{label}.json", GOOD)
    await t.refused(PullFeed(by=QUINN), "NothingToPull")
    await t.refused(PullFeed(by=QUINN, periods=[period_of(now, "weekly")]), "NotEnded")
    await t.refused(PullFeed(by=QUINN, feed="warehouse"), "NoFeed")
    await t.do(PullFeed(by=QUINN, periods=before))
    for _ in range(30):
        status = await t.status()
        if status.phase == "go_live":
            break
        await t.sleep(seconds=1)
    assert status.phase == "go_live"


async def test_the_token_comes_from_the_deployments_connection_and_never_enters_the_history(
    env, settings, feed, hook, monkeypatch, tmp_path
):
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from bpo.running import build_worker
    from tests.driver import Driver

    base, served = feed
    monkeypatch.setenv("BPO_FEED_CC_TOKEN", "s3cret-t0ken")
    (tmp_path / "connections.yaml").write_text(
        "connections:\n"
        f"  - {{name: acme-cc, kind: http, clients: [Acme Retail], url: '{base}/weeks/{{period}}.json',"
        " token_from: BPO_FEED_CC_TOKEN}\n"
    )
    settings = settings.model_copy(update={"connections_file": tmp_path / "connections.yaml"})
    text = PLAN.read_text().replace('url: "{base}/weeks/{period}.json"', "connection: acme-cc")
    plan = parse_plan(text.replace("{hook}", hook[0]), env={}, connections=deployment_connections(settings)).plan
    with ThreadPoolExecutor(max_workers=2) as executor:
        async with httpx.AsyncClient() as http, build_worker(env.client, settings, http, executor):
            t = await Driver.start(env, plan, settings.task_queue)
            first = (await t.status()).feeds["contact_centre"].next_period
            serve_weeks(served, first, 2)
            await past_weeks(t, first)
            assert t.gate(await t.status(), "pilot_kpis_met").progress == "1/2 periods"
            history = await env.client.get_workflow_handle(t.id).fetch_history()
    assert served.headers[f"/weeks/{first}.json"]["Authorization"] == "Bearer s3cret-t0ken"
    dumped = history.to_json()
    payloads = b"".join(base64.b64decode(d) for d in re.findall(r'"data": "([A-Za-z0-9+/=]+)"', dumped))
    assert b"acme-cc" in payloads, "the history carries the connection's name"
    assert b"BPO_FEED_CC_TOKEN" not in payloads and base.encode() not in payloads, "not its setting or URL"
    assert b"s3cret-t0ken" not in payloads and "s3cret-t0ken" not in dumped
