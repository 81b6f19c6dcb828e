"""The calendar feed (`bpo calendar`, the web app's `/t/ID/calendar`), read back with the
``icalendar`` package as a subscribed calendar would: stable uids, a sequence that grows when an
event moves, all-day dues in the plan's zone, and check-ins and reviews as recurring events."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import icalendar

from bpo.calendar import render_calendar
from models.calendar import zone
from models.commands import Approve, Cancel, Pause, Resume
from models.plan_loader import parse_plan
from models.workstreams import workstream_plan
from tests.rules.sim import DANA, LI, REFERENCE_PLAN, Run
from tests.rules.test_business_time_rules import business_run
from tests.rules.test_program_rules import PROGRAM, report, started

BERLIN = zone("Europe/Berlin")
NAME = "ACME Tier-1 support to NorthStar BPO"


def events(feed: str) -> dict[str, icalendar.Event]:
    """The feed's events by uid; the uids are unique."""
    found = list(icalendar.Calendar.from_ical(feed).walk("VEVENT"))
    by_uid = {str(e["UID"]): e for e in found}
    assert len(by_uid) == len(found), "a uid appears twice"
    return by_uid


def berlin_run(start: datetime) -> Run:
    """The reference plan (planning due in 14d, weekly check-ins) on a Berlin calendar."""
    text = REFERENCE_PLAN.read_text().replace("\nphases:\n", "\ncalendar: {timezone: Europe/Berlin}\n\nphases:\n", 1)
    return Run(parse_plan(text, env={}).plan, start=start)


def without_stamp(event: icalendar.Event) -> dict[str, bytes]:
    return {name: event[name].to_ical() for name in event if name != "DTSTAMP"}


def test_two_exports_at_different_moments_give_the_same_events_under_the_same_uids():
    run = Run(parse_plan(REFERENCE_PLAN.read_text(), env={}).plan)
    plan, status = run.machine.plan, run.status()
    first = events(render_calendar(plan, status, run.now))
    again = events(render_calendar(plan, status, run.now + timedelta(days=10, hours=5)))
    assert first.keys() == again.keys()
    assert {"t-1-due-planning@bpo-transition", "t-1-check-in@bpo-transition"} <= first.keys()
    assert all(without_stamp(first[uid]) == without_stamp(again[uid]) for uid in first)
    # days pass and the transition moves on: the series and the dues keep their uids and times
    later = events(render_calendar(plan, run.later(days=3), run.now))
    for uid in ("t-1-check-in@bpo-transition", "t-1-review@bpo-transition", "t-1-due-planning@bpo-transition"):
        assert later[uid]["DTSTART"].dt == first[uid]["DTSTART"].dt
        assert later[uid]["SEQUENCE"] == first[uid]["SEQUENCE"], "nothing moved: a calendar has nothing to take again"


def test_a_due_in_whole_days_is_an_all_day_event_on_its_day_in_the_plans_zone():
    # 23:30 UTC is already the next day in Berlin: planning, due in 14d, ends on Berlin's 2027-01-19
    run = berlin_run(datetime(2027, 1, 4, 23, 30, tzinfo=UTC))
    due = events(render_calendar(run.machine.plan, run.status(), run.now))["t-1-due-planning@bpo-transition"]
    assert due["DTSTART"].dt == date(2027, 1, 19) and due["DTEND"].dt == date(2027, 1, 20)
    assert due["DTSTART"].params["VALUE"] == "DATE"


def test_a_due_in_business_days_keeps_its_hour_in_the_plans_zone():
    run = business_run()
    calendar = icalendar.Calendar.from_ical(render_calendar(run.machine.plan, run.status(), run.now))
    due = events(calendar.to_ical().decode())["t-1-due-planning@bpo-transition"]
    assert due["DTSTART"].dt == datetime(2027, 4, 15, 15, 0, tzinfo=BERLIN)  # Thursday 15:00 after 3bd
    assert due["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert [str(z["TZID"]) for z in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]


def test_check_ins_and_business_reviews_are_recurring_events_anchored_at_the_start():
    run = berlin_run(datetime(2027, 1, 4, 9, 0, tzinfo=BERLIN))
    run.later(days=9)  # an export nine days in does not move the series
    feed = events(render_calendar(run.machine.plan, run.status(), run.now))
    check_ins = [e for e in feed.values() if str(e["SUMMARY"]) == f"Check-in: {NAME}"]
    assert len(check_ins) == 1, "one series, not one event per week"
    check_in = check_ins[0]
    assert check_in["DTSTART"].dt == datetime(2027, 1, 11, 9, 0, tzinfo=BERLIN)  # a week after the start
    assert check_in["RRULE"]["FREQ"] == ["WEEKLY"] and check_in["RRULE"]["INTERVAL"] == [1]
    assert "UNTIL" not in check_in["RRULE"]  # until steady state, whenever that comes
    review = feed["t-1-review@bpo-transition"]
    assert review["RRULE"]["FREQ"] == ["WEEKLY"] and review["RRULE"]["INTERVAL"] == [13]
    assert review["RRULE"]["UNTIL"] == [datetime(2029, 12, 31, tzinfo=UTC)]  # steady_state.until


def test_a_cancelled_transitions_check_ins_end_there_under_the_same_uid_with_a_higher_sequence():
    run = berlin_run(datetime(2027, 1, 4, 9, 0, tzinfo=BERLIN))
    run.later(days=20)
    status = run.do(Cancel(by=DANA, reason="contract withdrawn"))
    check_in = events(render_calendar(run.machine.plan, status, run.now))["t-1-check-in@bpo-transition"]
    assert check_in["RRULE"]["UNTIL"] == [run.now] and check_in["SEQUENCE"] == 1
    assert check_in["DTSTART"].dt == datetime(2027, 1, 11, 9, 0, tzinfo=BERLIN)  # the past ones stay


def test_pausing_moves_the_due_under_the_same_uid_with_a_higher_sequence():
    run = business_run()
    uid = "t-1-due-planning@bpo-transition"
    before = events(render_calendar(run.machine.plan, run.status(), run.now))[uid]
    run.later(days=4, hours=-5)  # Tuesday 10:00
    run.do(Pause(by=LI, reason="client audit"))
    run.later(days=1)
    status = run.do(Resume(by=LI))
    after = events(render_calendar(run.machine.plan, status, run.now))[uid]
    assert after["DTSTART"].dt == datetime(2027, 4, 16, 15, 0, tzinfo=BERLIN)  # a business day later
    assert after["SEQUENCE"] > before["SEQUENCE"]  # moved: a subscribed calendar takes the new time


def test_a_programs_feed_carries_its_workstreams_dues_under_their_own_uids():
    run = Run(PROGRAM)
    run.do(Approve(gate="contract_signed", by=DANA))
    assert started(run) == ["email", "voice"]
    due = run.now + timedelta(days=21)
    run.machine.workstream_reported(
        report("voice", 1, phase="knowledge_transfer").model_copy(update={"next_due": due}), run.now
    )
    status = run.status()
    email = next(w for w in status.workstreams if w.key == "email")
    # email read now, from its own run; voice as the program last heard of it
    stream = Run(workstream_plan(PROGRAM, "email")).status().model_copy(update={"id": email.id})
    feed = events(render_calendar(run.machine.plan, status, run.now, {"email": stream}))
    own = events(render_calendar(workstream_plan(PROGRAM, "email"), stream, run.now))
    mine = {uid for uid in own if uid.startswith(f"{email.id}-due-")}
    assert mine and mine <= feed.keys(), "the workstream's dues keep the uids of its own feed"
    assert all(str(feed[uid]["SUMMARY"]).startswith("Tier-1 email support: ") for uid in mine)
    voice = feed[f"{status.id}/voice-due-knowledge_transfer@bpo-transition"]
    assert str(voice["SUMMARY"]) == "Inbound voice: knowledge_transfer due"
    assert not [uid for uid in feed if uid.startswith(f"{status.id}/chat")]  # chat waits: nothing due


def test_an_amendment_that_brings_a_due_forward_still_raises_its_sequence():
    """An approved amendment may move a due earlier: the SEQUENCE still grows, or a subscribed
    calendar would keep the later day it holds."""
    from models.commands import Amend
    from tests.rules.test_amendment_rules import version

    run = Run()
    run.pass_planning()
    uid = "t-1-due-mobilization@bpo-transition"
    before = events(render_calendar(run.machine.plan, run.status(), run.now))[uid]
    run.do(Amend(plan=version(("    due: 10d\n", "    due: 5d\n")), reason="the client is ready", by=LI))
    status = run.do(Approve(gate="amendment_1", by=DANA))
    after = events(render_calendar(run.machine.plan, status, run.now))[uid]
    assert after["DTSTART"].dt < before["DTSTART"].dt
    assert after["SEQUENCE"] > before["SEQUENCE"]
