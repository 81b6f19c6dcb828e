"""The feed schedule against `Machine` alone: when a source is pulled, how an unreachable one is
tried again and given up on, who is told, and how a late period takes its place in a streak."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from models.feeds import FeedResult
from models.plan_loader import parse_plan
from workflows.rules import Machine

PLAN = Path(__file__).resolve().parent.parent / "plans" / "feeds.yaml"
START = datetime(2027, 1, 6, 9, 30, tzinfo=UTC)  # a Wednesday of 2027-W01
GOOD = {"csat": 91.0, "aht": 380.0}


def machine() -> Machine:
    text = PLAN.read_text().replace("{base}", "https://cc.example").replace("{hook}", "https://hooks.example/x")
    return Machine.start(parse_plan(text, env={}).plan, "t-feeds", START)


def at(m: Machine, when: datetime) -> list:
    m.advance(when)
    return m.take_pulls(when, set())


def test_a_week_is_pulled_once_it_ends_and_its_source_had_time_to_settle():
    m = machine()
    settles = datetime(2027, 1, 11, 2, 0, tzinfo=UTC)  # Monday 00:00 UTC, then the feed's 2h
    assert m.next_wakeup(START) == settles
    assert at(m, settles - timedelta(seconds=1)) == []
    [pull] = at(m, settles)
    assert (pull.periods, pull.metrics) == (["2027-W01"], {"csat": "$.{kpi}", "aht": "$.handle_time.average"})
    m.pull_started("contact_centre")
    m.feed_pulled(
        pull, FeedResult(source="contact_centre", readings={"2027-W01": GOOD}, hashes={"2027-W01": "ab"}), settles
    )
    reading = [e for e in m.take_outbox().audit if e.kind == "kpi_reading"]
    assert reading[0].detail == {
        "period": "2027-W01",
        "values": GOOD,
        "feed": "contact_centre",
        "sha256": "ab",
        "operator": "feed contact_centre",
    }
    assert reading[0].via == "feed" and m.state.feeds["contact_centre"].next_period == "2027-W02"


def test_an_unreachable_source_is_tried_again_with_growing_pauses_then_reported_once():
    m = machine()
    when = datetime(2027, 1, 11, 2, 0, tzinfo=UTC)
    pauses = []
    while True:
        [pull] = at(m, when)
        m.pull_started("contact_centre")
        m.feed_pulled(pull, FeedResult(source="contact_centre", unreachable="it answered HTTP 503"), when)
        fs = m.state.feeds["contact_centre"]
        if fs.retry_at is None:
            break
        pauses.append(fs.retry_at - when)
        when = fs.retry_at
    assert pauses[:4] == [timedelta(minutes=n) for n in (1, 2, 4, 8)] and max(pauses) == timedelta(hours=1)
    assert fs.missing == ["2027-W01"] and not fs.asking
    out = m.take_outbox()
    [notice] = [n for n in out.notices if n.kind == "feed_no_data"]
    assert notice.subject == "[Acme Retail] no data from feed 'contact_centre' for 2027-W01"
    assert "unreachable for 6:00:00 (it answered HTTP 503)" in notice.text
    assert {r.id for r in notice.recipients} == {"pat@acme.example", "quinn@northwind.example"}
    # The next week's pull asks for the missing one too; it comes back, and the streak counts it first.
    [pull] = at(m, datetime(2027, 1, 18, 2, 0, tzinfo=UTC))
    assert pull.periods == ["2027-W01", "2027-W02"]
    m.pull_started("contact_centre")
    back = FeedResult(source="contact_centre", readings={"2027-W02": GOOD, "2027-W01": GOOD})
    m.feed_pulled(pull, back, datetime(2027, 1, 18, 2, 0, tzinfo=UTC))
    assert m.phase_key == "go_live" and not m.state.feeds["contact_centre"].missing


def test_a_period_with_no_data_breaks_a_streak_until_it_is_filled():
    m = machine()
    [pull] = at(m, datetime(2027, 1, 11, 2, 0, tzinfo=UTC))
    m.feed_pulled(pull, FeedResult(source="contact_centre", no_data={"2027-W01": "the source answered HTML"}), START)
    [pull] = at(m, datetime(2027, 1, 18, 2, 0, tzinfo=UTC))
    assert pull.periods == ["2027-W01", "2027-W02"]
    m.feed_pulled(
        pull,
        FeedResult(source="contact_centre", readings={"2027-W02": GOOD}, no_data={"2027-W01": "still HTML"}),
        START,
    )
    [pull] = at(m, datetime(2027, 1, 25, 2, 0, tzinfo=UTC))
    m.feed_pulled(
        pull, FeedResult(source="contact_centre", readings={"2027-W03": GOOD}, no_data={"2027-W01": "HTML"}), START
    )
    assert m.phase_key == "go_live", "W02 and W03 make two in a row after the gap"
    told = [n for n in m.take_outbox().notices if n.kind == "feed_no_data"]
    assert len(told) == 1 and "the source answered HTML" in told[0].text, "told once, with the first reason"


def test_pulls_wait_while_paused_and_catch_up_on_resume():
    from models.commands import Pause, Resume

    m = machine()
    m.apply(Pause(by="pat@acme.example", reason="client freeze"), START)
    assert (
        m.next_wakeup(datetime(2027, 2, 1, tzinfo=UTC)) is None
        or m.take_pulls(datetime(2027, 2, 1, tzinfo=UTC), set()) == []
    )
    m.apply(Resume(by="pat@acme.example"), datetime(2027, 2, 1, 12, tzinfo=UTC))
    [pull] = m.take_pulls(datetime(2027, 2, 1, 12, tzinfo=UTC), set())
    assert pull.periods == ["2027-W01", "2027-W02", "2027-W03", "2027-W04"]
