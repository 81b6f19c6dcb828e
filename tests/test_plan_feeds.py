"""A plan's feeds as the program office writes them: checked with their place before anything
runs, secrets named by the worker setting that holds them, and plans written before feeds
existed (and the signatures over them) unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.feeds import bounds, next_period, period_of
from models.plan_loader import PlanError, load_plan, parse_plan
from tests.conftest import REFERENCE_PLAN

FEED_PLAN = Path(__file__).resolve().parent.parent / "examples" / "feed-plan.yaml"
TEXT = FEED_PLAN.read_text()


def problems(text: str) -> str:
    with pytest.raises(PlanError) as caught:
        parse_plan(text, "plan.yaml", env={})
    return str(caught.value)


def test_the_example_feed_plan_loads_with_each_kpis_selector():
    plan = load_plan(FEED_PLAN, env={}).plan
    assert plan.feed_metrics("genesys") == {"csat": "$.{kpi}", "fcr": "$.resolution.first_contact"}
    assert plan.feed_metrics("warehouse") == {"aht": "handle_time"}


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ("source: genesys}", "source: zendesk}", "unknown feed 'zendesk'; known: genesys, warehouse"),
        ('select: "$.resolution.first_contact"', 'select: "resolution.first_contact"', "starts with $"),
        ("https://metrics.acme.example", "https://bot:pa55@metrics.acme.example", "may not carry a user or password"),
        ("https://metrics.acme.example", "http://metrics.acme.example", "read over https"),
        ("token: BPO_FEED_GENESYS_TOKEN", "token: sk_live_123", "should match pattern '^BPO_FEED_"),
        ("query: SELECT avg_seconds", "query: DELETE FROM kpi_weekly; SELECT avg_seconds", "it never writes"),
        ("reporting_period: weekly", "reporting_period: fortnightly", "'daily', 'weekly' or 'monthly'"),
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
    fed = load_plan(FEED_PLAN, env={}).plan.model_dump(mode="json")
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
