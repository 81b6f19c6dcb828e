"""People asked, reminded, warned and escalated on business time, on the time-skipping server:
a real worker, real timers, the audit trail as a reader sees it."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlmodel import Session

from infra.audit import read_trail
from infra.db import make_engine
from models.calendar import zone
from models.commands import Approve, Delegate
from models.plan_loader import parse_plan
from tests.conftest import REFERENCE_PLAN
from tests.driver import DANA, EVE, LI, RAJ

BERLIN = zone("Europe/Berlin")


def next_friday_afternoon(now: datetime) -> datetime:
    """The first Friday 15:00 in Berlin at least a day after ``now``."""
    day = (now + timedelta(days=1)).astimezone(BERLIN).date()
    day += timedelta(days=(4 - day.weekday()) % 7)
    return datetime(day.year, day.month, day.day, 15, 0, tzinfo=BERLIN)


def business_plan(holiday: date):
    calendar = f'calendar: {{timezone: Europe/Berlin, hours: "09:00-17:00", holidays: [{holiday}]}}\n'
    text = REFERENCE_PLAN.read_text().replace("\nphases:\n", f"\nreminders: {{every: 4bh}}\n{calendar}\nphases:\n", 1)
    planning = (
        "due: 3bd\n    warn_at: 50%\n"
        "    escalation: [{after: 1bh, notify: [executive_sponsor], health: escalated}]\n    gates:"
    )
    return parse_plan(text.replace("due: 14d\n    gates:", planning, 1), env={}).plan


def trail(settings, tid: str):
    with Session(make_engine(settings.audit_url)) as session:
        return read_trail(tid, session=session)


def sent(rows, about: str) -> list[list[str]]:
    """The recipients of each notice about ``about`` the log channel delivered."""
    return [
        r.detail["recipients"]
        for r in rows
        if r.kind == "notification_sent" and r.detail["about"] == about and r.detail["channel"] == "log"
    ]


async def test_a_phase_due_in_3bd_from_a_friday_before_a_holiday_warns_reminds_and_escalates_on_time(
    env, launch, settings
):
    friday = next_friday_afternoon(await env.get_current_time())
    await env.sleep(friday - await env.get_current_time())
    t = await launch(business_plan(holiday=friday.date() + timedelta(days=3)))
    await t.approve("slas_signed", DANA)  # Raj is still awaited on it; Dana on nothing
    status = await t.status()
    assert status.phase_due_at and status.phase_due_at.astimezone(BERLIN).strftime("%a %H:%M") == "Thu 15:00"

    await t.sleep(days=6, minutes=59)  # Thursday 15:59, local
    status = await t.status()
    assert status.escalations == [] and status.health == "at_risk"
    await t.sleep(minutes=2)
    status = await t.status()
    (escalation,) = status.escalations
    assert escalation.at.astimezone(BERLIN).strftime("%a %H:%M") == "Thu 16:00" and status.health == "escalated"

    rows = trail(settings, t.id)
    assert [r.at.astimezone(BERLIN).strftime("%a %H:%M") for r in rows if r.kind == "deadline_warning"] == [
        "Wed 11:00"
    ], "warn_at fires once, at half of the business time"
    reminders = sent(rows, "reminder")
    # every 4bh from Friday 15:00: Tue 11:00 and 15:00, Wed and Thu the same; 36 on the wall clock
    assert sum(RAJ in to for to in reminders) == 6, "Raj is reminded of slas_signed on business time"
    assert all(DANA not in to for to in reminders), "Dana signed, so she is not reminded"


async def test_a_delegate_decides_for_the_sponsor_until_the_end_of_the_day_named(launch, reference_plan, settings):
    t = await launch(reference_plan)
    until = (await t.env.get_current_time()).date() + timedelta(days=2)
    await t.do(Delegate(person=DANA, to=EVE, until=until, by=DANA))
    status = await t.approve("slas_signed", EVE)
    assert DANA not in t.gate(status, "slas_signed").waiting_for
    await t.sleep(days=3)
    await t.refused(Approve(gate="gap_analysis_approved", by=EVE), "NotAllowed")
    row = next(r for r in trail(settings, t.id) if r.kind == "approved" and r.gate == "slas_signed")
    assert row.actor == EVE and row.detail["for"] == DANA


async def test_a_pilot_reading_below_sla_alerts_the_breach_roles_at_once(launch, reference_plan, settings):
    t = await launch(reference_plan)
    await t.reach("pilot")
    await t.read("P1", csat=70.0, error_rate=1.5, first_response_hours=3.0)
    alerts = sent(trail(settings, t.id), "sla_breach")
    assert len(alerts) == 1 and set(alerts[0]) == {LI, RAJ}
