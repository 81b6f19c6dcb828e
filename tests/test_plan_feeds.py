"""A plan's feeds as the program office writes them: checked with their place before anything
runs, credentials and databases only through the deployment's connections, and plans written
before feeds existed (and the signatures over them) unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.connections import load_connections
from models.feeds import bounds, next_period, period_of
from models.plan_loader import PlanError, load_plan, parse_plan
from tests.conftest import REFERENCE_PLAN

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FEED_PLAN = EXAMPLES / "feed-plan.yaml"
TEXT = FEED_PLAN.read_text()
CONNECTIONS = load_connections(EXAMPLES / "connections.yaml")
OWN_URL = "connection: acme-genesys"
"""The line to replace to give the genesys feed a URL of the plan's own."""


def problems(text: str) -> str:
    with pytest.raises(PlanError) as caught:
        parse_plan(text, "plan.yaml", env={}, connections=CONNECTIONS)
    return str(caught.value)


def test_the_example_feed_plan_loads_with_each_kpis_selector():
    plan = load_plan(FEED_PLAN, env={}, connections=CONNECTIONS).plan
    assert plan.feed_metrics("genesys") == {"csat": "$.{kpi}", "fcr": "$.resolution.first_contact"}
    assert plan.feed_metrics("warehouse") == {"aht": "handle_time"}


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ("source: genesys}", "source: zendesk}", "unknown feed 'zendesk'; known: genesys, warehouse"),
        ('select: "$.resolution.first_contact"', 'select: "resolution.first_contact"', "starts with $"),
        (OWN_URL, "url: https://bot:pa55@metrics.acme.example/{period}", "may not carry a user or password"),
        (OWN_URL, "url: http://metrics.acme.example/{period}", "read over https"),
        (OWN_URL, f"{OWN_URL}\n    url: https://metrics.acme.example/x", "a url or a connection, one of them"),
        ("reporting_period: weekly", "reporting_period: fortnightly", "'daily', 'weekly' or 'monthly'"),
        # the boundary: a credential, a database or a query is the deployment's, never the plan's
        (OWN_URL, "url: https://m.acme.example/{period}\n    token: BPO_FEED_GENESYS_TOKEN", "write connection: NAME"),
        ("connection: acme-warehouse", "database: BPO_FEED_WAREHOUSE_URL\n    query: SELECT 1", "a sql feed reads"),
        ("connection: acme-warehouse", "connection: acme-warehouse\n    query: SELECT 1", "the connection holds the query"),
        (OWN_URL, "connection: acme-payroll", "the deployment has no connection 'acme-payroll'"),
        (OWN_URL, "connection: acme-warehouse", "connection 'acme-warehouse' is a sql connection"),
        ("client: Acme Retail", "client: Globex", "connection 'acme-genesys' is not open to client 'Globex'"),
    ],
)
def test_a_bad_feed_is_refused_with_its_place(old, new, says):
    assert old in TEXT
    assert says in problems(TEXT.replace(old, new, 1))


def test_a_plan_without_feeds_dumps_as_it_did_before_feeds_existed():
    plan = load_plan(REFERENCE_PLAN, env={}).plan
    dumped = plan.model_dump(mode="json")
    assert not {"feeds", "feed", "reporting_period"} & set(dumped)
    assert all("feed" not in k for k in dumped["kpis"])
    fed = load_plan(FEED_PLAN, env={}, connections=CONNECTIONS).plan.model_dump(mode="json")
    assert fed["feeds"][0]["name"] == "genesys" and fed["kpis"][1]["feed"]["source"] == "genesys"


@pytest.mark.parametrize(
    ("every", "label", "start", "end"),
    [
        ("weekly", "2027-W01", "2027-01-04", "2027-01-11"),
        ("weekly", "2026-W53", "2026-12-28", "2027-01-04"),
        ("monthly", "2027-12", "2027-12-01", "2028-01-01"),
        ("daily", "2027-02-28", "2027-02-28", "2027-03-01"),
    ],
)
def test_reporting_periods_and_their_bounds(every, label, start, end):
    begins, ends = bounds(label, every)
    assert (begins.date().isoformat(), ends.date().isoformat()) == (start, end)
    assert period_of(begins, every) == label and next_period(label, every) == period_of(ends, every)


def test_a_plan_naming_connections_is_refused_where_the_deployment_offers_none():
    with pytest.raises(PlanError) as caught:
        load_plan(FEED_PLAN, env={})
    assert "the deployment has no connection 'acme-genesys' in BPO_CONNECTIONS; ask its operator" in str(caught.value)
    said = problems(TEXT.replace(OWN_URL, "connection: acme-payroll"))
    assert "no connection 'acme-payroll'" in said and "acme-warehouse" not in said, "others' names are not listed"
