"""Business calendars: the plan keys that declare them, refusals with their place, and the clock
arithmetic, checked as properties over many moments, zones and durations."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.calendar import Calendar
from models.durations import BusinessTime, parse_span
from models.plan_loader import PlanError, parse_plan
from tests.conftest import REFERENCE_PLAN

TEXT = REFERENCE_PLAN.read_text()
CALENDAR = 'calendar: {timezone: Europe/Berlin, hours: "09:00-17:00", holidays: [2027-04-12]}\n'
BERLIN = Calendar(timezone="Europe/Berlin", holidays=[date(2027, 4, 12), date(2027, 12, 24)])
ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Sydney", "UTC"]


def problems(text: str) -> str:
    with pytest.raises(PlanError) as caught:
        parse_plan(text, "plan.yaml", env={})
    return str(caught.value)


def with_calendar(calendar: str = CALENDAR, old: str = "due: 14d", new: str = "due: 14d") -> str:
    return TEXT.replace("phases:\n", calendar + "\nphases:\n", 1).replace(old, new, 1)


def test_a_plan_with_a_calendar_and_business_durations_loads_and_keeps_their_form():
    own = "due: 10bd\n    warn_at: 75%\n    escalation: [{after: 1bd, notify: [program_manager]}]"
    plan = parse_plan(with_calendar(new=own), env={}).plan
    assert plan.calendar is not None and plan.calendar.timezone == "Europe/Berlin"
    assert plan.phases[0].due == BusinessTime(10, "bd") and plan.phases[0].warn_at == 0.75
    # the plan travels through Temporal as JSON and comes back the same
    again = type(plan).model_validate_json(plan.model_dump_json())
    assert again == plan and again.phases[0].due == BusinessTime(10, "bd")


@pytest.mark.parametrize(
    ("calendar", "message"),
    [
        ("calendar: {timezone: Mars/Olympus}\n", "calendar.timezone: unknown time zone 'Mars/Olympus'"),
        ("calendar: {holidays: [next tuesday]}\n", "calendar.holidays[0]: must be a date (YYYY-MM-DD)"),
        ('calendar: {hours: "25:00-17:00"}\n', "calendar.hours: '25:00-17:00' is not a span of hours"),
        ('calendar: {hours: "17:00-09:00"}\n', "calendar.hours: '17:00-09:00' ends before it starts"),
        ("calendar: {workdays: []}\n", "calendar.workdays: a calendar needs at least one workday"),
        ("calendar: {workdays: [mon, fri, funday]}\n", "calendar.workdays[2]: must be one of 'mon'"),
    ],
)
def test_a_bad_calendar_is_refused_with_its_place(calendar, message):
    assert message in problems(with_calendar(calendar))


@pytest.mark.parametrize(
    ("calendar", "old", "new", "message"),
    [
        ("", "due: 14d", "due: 3bd", "phases[0].due: 3bd counts business time; give the plan a calendar"),
        (CALENDAR, "due: 14d", "due: 14d\n    warn_at: 150%", "phases[0].warn_at: must be less than 1"),
        (CALENDAR, "due: 14d", "due: 14d\n    warn_at: soon%", "phases[0].warn_at: 'soon%' is not a share"),
        (CALENDAR, "due: 14d", "due: 5bd", "escalation[0].after: after: 2d counts wall-clock time but planning's due"),
        (CALENDAR, "due: 14d", "due: 14d\n    min_duration: 3bx", "phases[0].min_duration: '3bx' is not a duration"),
        (CALENDAR, "due: 14d", "due: 99999bd", "phases[0].due: '99999bd' is out of range"),
        (
            CALENDAR,
            "        approvers: {roles: [program_manager]}\n",
            "        approvers: {roles: [program_manager]}\n        warn_at: 50%\n",
            "phases[0].gates[0].warn_at: warn_at is a share of due; give the gate a due",
        ),
        (
            CALENDAR,
            "        approvers: {roles: [program_manager]}\n",
            "        approvers: {roles: [program_manager]}\n        escalation: [{after: 1bh, notify: [sme]}]\n",
            "phases[0].gates[0].escalation: a gate's own escalation counts past its own due",
        ),
    ],
)
def test_business_time_that_cannot_work_is_refused_with_its_place(calendar, old, new, message):
    assert message in problems(with_calendar(calendar, old, new))


def test_business_units_parse_and_wall_clock_units_stay_wall_clock():
    assert parse_span("5bd") == BusinessTime(5, "bd") and str(parse_span("16bh")) == "16bh"
    assert parse_span("14d") == timedelta(days=14) and parse_span("P14D") == timedelta(days=14)
    assert BusinessTime(2, "bd").seconds(BERLIN.day_seconds) == 16 * 3600


def test_three_business_days_from_a_friday_afternoon_before_a_holiday_monday_end_on_thursday():
    friday = datetime(2027, 4, 9, 15, 0, tzinfo=BERLIN.tz)
    due = BERLIN.add(friday, 3 * BERLIN.day_seconds)
    assert BERLIN.local(due) == "Thu 2027-04-15 15:00 CEST"


def test_a_deadline_across_the_spring_change_lands_on_the_same_local_hour():
    friday = datetime(2027, 3, 26, 15, 0, tzinfo=BERLIN.tz)  # clocks go forward on Sunday the 28th
    assert BERLIN.local(BERLIN.add(friday, BERLIN.day_seconds)) == "Mon 2027-03-29 15:00 CEST"
    new_york = Calendar(timezone="America/New_York")
    friday = datetime(2027, 11, 5, 10, 30, tzinfo=new_york.tz)  # clocks go back on Sunday the 7th
    assert new_york.local(new_york.add(friday, 2 * new_york.day_seconds)) == "Tue 2027-11-09 10:30 EST"


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    start = draw(st.integers(0, 20))
    length = draw(st.integers(1, 24 - start))
    days = draw(st.sets(st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]), min_size=1))
    holidays = draw(st.lists(st.dates(date(2027, 1, 1), date(2027, 12, 31)), max_size=20))
    end = f"{start + length:02d}:00"
    return Calendar(
        timezone=draw(st.sampled_from(ZONES)), workdays=sorted(days), hours=f"{start:02d}:00-{end}", holidays=holidays
    )


moments = st.datetimes(datetime(2027, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC))


@settings(max_examples=150, deadline=None)
@given(calendars(), moments, st.integers(1, 400 * 3600))
def test_adding_business_time_counts_exactly_that_much_working_time(calendar, start, seconds):
    end = calendar.add(start, seconds)
    assert calendar.working_seconds(start, end) == pytest.approx(seconds, abs=1e-3)
    assert calendar.working_seconds(start, end - timedelta(seconds=1)) < seconds


@settings(max_examples=150, deadline=None)
@given(calendars(), moments, st.integers(1, 400 * 3600))
def test_business_time_never_ends_on_a_day_off_or_outside_working_hours(calendar, start, seconds):
    end = calendar.add(start, seconds)
    local = end.astimezone(calendar.tz)
    day = local.date() if local.time() != time(0) else local.date() - timedelta(days=1)
    assert calendar.is_workday(day), f"{local} is not a working day"
    window = calendar.window(day)
    assert window is not None and window[0] < end <= window[1]


@settings(max_examples=150, deadline=None)
@given(calendars(), moments, st.integers(0, 30 * 86400), st.integers(0, 30 * 86400))
def test_working_time_adds_up_and_never_exceeds_the_wall_clock(calendar, a, gap1, gap2):
    b, c = a + timedelta(seconds=gap1), a + timedelta(seconds=gap1 + gap2)
    whole = calendar.working_seconds(a, c)
    assert whole == pytest.approx(calendar.working_seconds(a, b) + calendar.working_seconds(b, c), abs=1e-3)
    assert whole <= (c - a).total_seconds()
    days = {
        # every local date from a to c: two gaps under a day each may still span one
        (a + timedelta(days=n)).astimezone(calendar.tz).date() for n in range(-1, (gap1 + gap2) // 86400 + 2)
    }
    if not any(calendar.is_workday(d) for d in days):
        assert whole == 0, "weekends and holidays count nothing"


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(ZONES), moments, st.integers(1, 40))
def test_whole_business_days_keep_the_local_hour_across_daylight_saving(zone, start, days):
    calendar = Calendar(timezone=zone, hours="08:00-18:00")
    local = start.astimezone(calendar.tz)
    opened = datetime.combine(local.date(), time(11, 15), tzinfo=calendar.tz)
    if not calendar.is_workday(opened.date()):
        return
    due = calendar.add(opened, days * calendar.day_seconds).astimezone(calendar.tz)
    assert (due.hour, due.minute) == (11, 15)
