"""The feed activity against real sources: JSON and CSV from a loopback HTTP server, SQL on a real
SQLite file and a real PostgreSQL server, credentials and databases through the deployment's
connections. Bad answers give "no data" with the reason (never the value), a source down is
"unreachable", and a period is read whole or not at all."""

from __future__ import annotations

import json

import httpx
import pytest
import sqlalchemy as sa
from temporalio.testing import ActivityEnvironment

from activities.feeds import MAX_FEED_BYTES, FeedActivities
from models.connections import Connection, Connections
from models.feeds import FeedPull, FeedResult, HttpFeed, SqlFeed
from tests.receivers import document_server

WEEKS = ["2027-W05", "2027-W06"]
METRICS = {"csat": "$.scores.csat", "aht": "$.aht"}


@pytest.fixture
def served():
    with document_server() as (base, files):
        yield base, files


async def pull(source, metrics=METRICS, periods=WEEKS, secrets=None, connections=(), client="ACME Corp") -> FeedResult:
    async with httpx.AsyncClient() as http:
        acts = FeedActivities(http, secrets or {}, Connections(connections=list(connections)))
        asked = FeedPull(transition_id="t", source=source, client=client, metrics=metrics, periods=periods)
        return await ActivityEnvironment().run(acts.pull, asked)


def json_feed(base: str, **extra) -> HttpFeed:
    return HttpFeed(name="cc", kind="json", url=f"{base}/weeks/{{period}}.json", **extra)


def cc(base: str, **extra) -> Connection:
    """The deployment's connection to the contact-centre platform, for ACME Corp."""
    fields = {"url": f"{base}/weeks/{{period}}.json", "token_from": "BPO_FEED_CC_TOKEN", **extra}
    return Connection(name="acme-cc", kind="http", clients=["ACME Corp"], **fields)


CONNECTED = HttpFeed(name="cc", kind="json", connection="acme-cc")


async def test_json_readings_for_each_period_with_the_documents_hash(served):
    base, files = served
    files.json("/weeks/2027-W05.json", {"scores": {"csat": 91}, "aht": "380.5"})
    files.json("/weeks/2027-W06.json", {"scores": {"csat": 88}, "aht": 401})
    result = await pull(json_feed(base))
    assert result.readings == {"2027-W05": {"csat": 91.0, "aht": 380.5}, "2027-W06": {"csat": 88.0, "aht": 401.0}}
    import hashlib

    assert result.hashes["2027-W05"] == hashlib.sha256(files.files["/weeks/2027-W05.json"][2]).hexdigest()
    assert not result.no_data and result.unreachable is None


async def test_the_connections_token_is_sent_from_the_workers_setting_and_a_missing_one_is_unreachable(served):
    base, files = served
    files.json("/weeks/2027-W05.json", {"scores": {"csat": 91}, "aht": 1})
    result = await pull(CONNECTED, periods=WEEKS[:1], connections=[cc(base)])
    assert result.unreachable == "BPO_FEED_CC_TOKEN is not set on this worker"
    secrets = {"BPO_FEED_CC_TOKEN": "s3cret"}
    result = await pull(CONNECTED, periods=WEEKS[:1], secrets=secrets, connections=[cc(base)])
    assert result.readings["2027-W05"]["csat"] == 91
    assert files.headers["/weeks/2027-W05.json"]["Authorization"] == "Bearer s3cret"


async def test_a_plan_naming_a_token_setting_itself_is_switched_off_and_the_token_never_sent(served):
    base, files = served
    files.json("/weeks/2027-W05.json", {"scores": {"csat": 91}, "aht": 1})
    old = json_feed(base, token="BPO_FEED_CC_TOKEN")  # a plan written before the boundary
    result = await pull(old, secrets={"BPO_FEED_CC_TOKEN": "s3cret"}, connections=[cc(base)])
    assert set(result.no_data) == set(WEEKS) and not result.readings
    assert "switched off" in result.no_data[WEEKS[0]] and "connection: NAME" in result.no_data[WEEKS[0]]
    assert files.hits == {}, "nothing was fetched, so the token went nowhere"


@pytest.mark.parametrize(
    ("client", "connection", "says"),
    [
        ("Globex", {}, "not open to client 'Globex'"),
        ("ACME Corp", {"name": "other"}, "the deployment has no connection 'acme-cc'"),
        ("ACME Corp", {"kind": "webhook", "token_from": None}, "is a webhook connection"),
    ],
)
async def test_a_connection_another_client_owns_is_never_used(served, client, connection, says):
    base, files = served
    files.json("/weeks/2027-W05.json", {"scores": {"csat": 91}, "aht": 1})
    offered = cc(base).model_copy(update=connection)
    result = await pull(CONNECTED, client=client, secrets={"BPO_FEED_CC_TOKEN": "s3cret"}, connections=[offered])
    assert says in result.no_data[WEEKS[0]] and files.hits == {}


@pytest.mark.parametrize(
    ("kind", "body", "reason"),
    [
        ("text/html+acct-4111", b"<html><body>Sign in</body></html>", "the source answered HTML, not JSON"),
        ("application/json", b'{"scores": {}, "aht": 300}', "csat: no field 'csat' at $.scores"),
        ("application/json", b'{"scores": {"csat": -4}, "aht": 300}', "csat: -4 is negative"),
        ("application/json", b'{"scores": {"csat": "Jane Roe 4111"}, "aht": 300}', "csat: text is not a number"),
        ("application/json", b'{"scores": {"csat": true}, "aht": 300}', "csat: true or false is not a number"),
        ("application/json", b"{not json", "not JSON"),
    ],
)
async def test_a_bad_answer_is_no_data_with_its_reason_and_nothing_of_the_period_recorded(served, kind, body, reason):
    base, files = served
    files.put("/weeks/2027-W05.json", body, kind)
    files.json("/weeks/2027-W06.json", {"scores": {"csat": 88}, "aht": 401})
    result = await pull(json_feed(base))
    assert reason in result.no_data["2027-W05"] and "Jane" not in result.no_data["2027-W05"]
    assert "2027-W05" not in result.readings, "the good aht of a bad period is not recorded alone"
    assert result.readings["2027-W06"] == {"csat": 88.0, "aht": 401.0}


async def test_a_ten_megabyte_answer_is_refused_without_reading_it_all(served):
    base, files = served
    files.put("/weeks/2027-W05.json", b"[" + b"1," * (5 * 1024 * 1024) + b"1]", "application/json")
    result = await pull(json_feed(base), periods=WEEKS[:1])
    assert f"over the limit of {MAX_FEED_BYTES:,} bytes" in result.no_data["2027-W05"]


async def test_redirects_are_followed_on_the_same_host_only(served):
    base, files = served
    port = base.rsplit(":", 1)[1]
    files.json("/moved/2027-W05.json", {"scores": {"csat": 90}, "aht": 300})
    files.redirect["/weeks/2027-W05.json"] = "/moved/2027-W05.json"
    files.redirect["/weeks/2027-W06.json"] = f"http://localhost:{port}/moved/2027-W05.json"
    result = await pull(json_feed(base))
    assert result.readings["2027-W05"]["csat"] == 90
    assert result.no_data["2027-W06"] == "it redirects to another host; not followed", "the Location is not told"


async def test_a_source_down_is_unreachable_and_says_so_without_its_url(served):
    base, files = served
    files.down = True
    result = await pull(CONNECTED, secrets={"BPO_FEED_CC_TOKEN": "s3cret"}, connections=[cc(base)])
    assert result.unreachable == "it answered HTTP 503" and not result.readings
    closed = await pull(HttpFeed(name="cc", kind="json", url="http://127.0.0.1:9/x/{period}"))
    assert "cannot connect" in (closed.unreachable or "") and "127.0.0.1" not in (closed.unreachable or "")


async def test_csv_rows_by_period_and_metric(served):
    base, files = served
    files.put("/kpis.csv", b"period,metric,value\n2027-W05,csat,90\n2027-W05,aht,310\n2027-W06,csat,92\n", "text/csv")
    result = await pull(HttpFeed(name="cc", kind="csv", url=f"{base}/kpis.csv"), {"csat": "{kpi}", "aht": "{kpi}"})
    assert result.readings == {"2027-W05": {"csat": 90.0, "aht": 310.0}}
    assert result.no_data["2027-W06"] == "aht: no row for 2027-W06,aht"
    assert files.hits["/kpis.csv"] == 1, "one file for both weeks, fetched once"


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse(request, tmp_path):
    """A real database with a weekly KPI table, on SQLite and on PostgreSQL."""
    url = f"sqlite:///{tmp_path}/warehouse.db" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    engine = sa.create_engine(url)
    with engine.begin() as c:
        c.exec_driver_sql("DROP TABLE IF EXISTS kpi_weekly")
        c.exec_driver_sql("CREATE TABLE kpi_weekly (week VARCHAR(10), metric VARCHAR(20), value FLOAT)")
        c.exec_driver_sql(
            "INSERT INTO kpi_weekly VALUES ('2027-W05','csat',89),('2027-W05','aht',300),('2027-W06','csat',90)"
        )
    yield url, engine
    engine.dispose()


QUERY = "SELECT CAST(value AS NUMERIC(6, 2)) FROM kpi_weekly WHERE week = :period AND metric = :kpi"
"""A NUMERIC answer: PostgreSQL gives it as a Decimal."""


DW = SqlFeed(name="dw", kind="sql", connection="acme-dw")


def dw(query: str = QUERY) -> Connection:
    """The deployment's connection to ACME's warehouse: its database and its query."""
    return Connection(name="acme-dw", kind="sql", clients=["ACME Corp"], database_from="BPO_FEED_DW_URL", query=query)


async def test_sql_feed_reads_one_number_per_kpi_from_the_connections_database_and_query(warehouse):
    url, _ = warehouse
    secrets = {"BPO_FEED_DW_URL": url}
    result = await pull(DW, {"csat": "{kpi}", "aht": "{kpi}"}, secrets=secrets, connections=[dw()])
    assert result.readings == {"2027-W05": {"csat": 89.0, "aht": 300.0}}
    assert "aht: the query answered 0 rows" in result.no_data["2027-W06"]
    wide = dw("SELECT value, week FROM kpi_weekly WHERE metric = :kpi")
    result = await pull(DW, {"csat": "{kpi}"}, periods=WEEKS[:1], secrets=secrets, connections=[wide])
    assert result.no_data["2027-W05"] == "csat: the query answered 2 rows; it must answer one number"
    carried = json.loads(FeedPull(transition_id="t", source=DW, metrics={}, periods=[]).model_dump_json())["source"]
    assert carried["connection"] == "acme-dw" and not {"database", "query"} & set(carried), (
        "the history carries the connection's name, never the database or its query"
    )


async def test_a_plans_own_query_on_a_database_setting_is_switched_off_and_never_run(warehouse):
    url, engine = warehouse
    old = SqlFeed(name="dw", kind="sql", database="BPO_FEED_DW_URL", query="SELECT count(*) FROM kpi_weekly")
    result = await pull(old, {"csat": "{kpi}"}, secrets={"BPO_FEED_DW_URL": url}, connections=[dw()])
    assert "switched off" in result.no_data["2027-W05"] and not result.readings


async def test_a_sql_feed_that_tries_to_write_is_refused_by_the_database_and_writes_nothing(warehouse):
    url, engine = warehouse
    if url.startswith("postgresql"):  # passes the connection's check (a WITH ... SELECT), refused by the transaction
        connection = dw("WITH gone AS (DELETE FROM kpi_weekly RETURNING value) SELECT max(value) FROM gone")
    else:  # the connection's check refuses it; were it bypassed, the read-only connection still would
        with pytest.raises(ValueError, match="never writes"):
            dw("DELETE FROM kpi_weekly RETURNING value")
        connection = dw().model_copy(update={"query": "DELETE FROM kpi_weekly RETURNING value"})
    secrets = {"BPO_FEED_DW_URL": url}
    result = await pull(DW, {"csat": "{kpi}"}, periods=WEEKS[:1], secrets=secrets, connections=[connection])
    assert result.no_data["2027-W05"] == "the database refused the query (it tried to write)"
    with engine.connect() as c:
        assert c.exec_driver_sql("SELECT count(*) FROM kpi_weekly").scalar() == 3


async def test_a_database_down_is_unreachable():
    secrets = {"BPO_FEED_DW_URL": "postgresql+psycopg://x@127.0.0.1:9/dw"}
    result = await pull(DW, {"csat": "{kpi}"}, secrets=secrets, connections=[dw()])
    assert result.unreachable == "cannot connect to the database (OperationalError)"
