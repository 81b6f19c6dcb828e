"""Business time in the rules: deadlines, ladders, warnings and reminders on the plan's calendar,
with paused time left out."""

from __future__ import annotations

from datetime import datetime

from models.calendar import zone
from models.commands import Pause, Resume
from models.plan_loader import parse_plan
from tests.rules.sim import DANA, LI, RAJ, REFERENCE_PLAN, Run

BERLIN = zone("Europe/Berlin")
FRIDAY = datetime(2027, 4, 9, 15, 0, tzinfo=BERLIN)  # the Monday after is a holiday
CALENDAR = 'calendar: {timezone: Europe/Berlin, hours: "09:00-17:00", holidays: [2027-04-12]}\n\nphases:\n'
PLANNING = (
    "due: 3bd\n    warn_at: 50%\n"
    "    escalation: [{after: 1bh, notify: [executive_sponsor], health: escalated}]\n    gates:"
)


def business_run(*edits: tuple[str, str]) -> Run:
    """The reference plan on a Berlin calendar with planning due in 3bd, opened on a Friday at
    15:00 before a holiday Monday; ``edits`` change its text further."""
    text = REFERENCE_PLAN.read_text().replace("\nphases:\n", "\n" + CALENDAR, 1)
    text = text.replace("due: 14d\n    gates:", PLANNING, 1)
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    return Run(parse_plan(text, env={}).plan, start=FRIDAY)


def local(moment: datetime | None) -> str:
    assert moment is not None
    return moment.astimezone(BERLIN).strftime("%a %H:%M")


def test_a_phase_due_in_3bd_from_a_friday_afternoon_before_a_holiday_escalates_on_thursday():
    run = business_run()
    status = run.status()
    assert local(status.phase_due_at) == "Thu 15:00" and status.timezone == "Europe/Berlin"
    assert status.business_left == "3bd"
    run.later(days=6, hours=0, minutes=59)  # Thursday 15:59
    assert run.status().escalations == [] and run.status().business_left == "0s"
    status = run.later(minutes=1)
    assert [(e.level, local(e.at), e.notified) for e in status.escalations] == [(1, "Thu 16:00", [DANA])]
    assert status.health == "escalated"


def test_paused_time_does_not_count_toward_a_business_deadline():
    run = business_run()
    run.later(days=4, hours=-5)  # Tuesday 10:00
    run.do(Pause(by=LI, reason="client audit"))
    run.later(days=1)  # Wednesday 10:00: a whole business day paused
    run.do(Resume(by=LI))
    assert local(run.status().phase_due_at) == "Fri 15:00"
    assert run.status().business_left == "2bd 5h"  # Fri 2h and Tue 1h had run before the pause


def test_warn_at_warns_the_awaited_people_and_the_points_of_contact_once_and_sets_at_risk():
    run = business_run()
    run.approve("slas_signed", DANA, RAJ)
    run.later(days=4, hours=-4, minutes=-1)  # Wednesday 10:59: 11bh of 12bh
    assert run.sent("deadline_warning") == [] and run.status().health == "on_track"
    status = run.later(days=1, minutes=1)
    (warning,) = run.sent("deadline_warning")
    assert local(warning.at) == "Wed 11:00" and status.health == "at_risk"
    assert sorted(r.id for r in warning.recipients) == sorted([LI, RAJ]), "Dana already signed"
    assert (
        "Gap analysis approved, Governance defined" in warning.subject and "Thu 2027-04-15 15:00 CEST" in warning.text
    )


def test_reminders_in_business_hours_skip_the_weekend_and_the_holiday():
    run = business_run(("phases:\n", "reminders: {every: 4bh}\n\nphases:\n"))
    run.later(days=5)  # to Wednesday 15:00
    assert sorted({local(n.at) for n in run.sent("reminder")}) == ["Tue 11:00", "Tue 15:00", "Wed 11:00", "Wed 15:00"]


def test_a_gate_with_its_own_due_and_ladder_escalates_on_its_own_clock_once():
    own = (
        "        approvers: {roles: [executive_sponsor, transition_lead], rule: all}\n",
        "        approvers: {roles: [executive_sponsor, transition_lead], rule: all}\n"
        "        due: 1bd\n        escalation: [{after: 2bh, notify: [program_manager]}]\n",
    )
    run = business_run(own)
    assert local(next(g for g in run.status().gates if g.key == "slas_signed").due_at) == "Tue 15:00"
    status = run.later(days=4, hours=1)  # Tuesday 16:00 wall-clock, far past nothing else
    assert status.escalations == []
    status = run.later(hours=1)
    assert [(e.gate, e.level, local(e.at), e.notified) for e in status.escalations] == [
        ("slas_signed", 1, "Tue 17:00", [LI])
    ]
    run.later(days=1)
    assert len(run.status().escalations) == 1, "a level fires once per gate attempt"
    assert [a.gate for a in run.audit if a.kind == "escalation"] == ["slas_signed"]


def test_status_calendar_and_report_show_due_dates_in_the_plans_zone_with_business_time_left():
    from bpo.calendar import render_calendar
    from bpo.render import status_text
    from bpo.report import render_report

    run = business_run()
    run.later(days=4)  # Tuesday 15:00: Fri 2h and Tue 6h have run
    status = run.status()
    text = status_text(status, run.now)
    assert "Due:     Thu 2027-04-15 15:00 CEST (in 2d), 2bd of business time left" in text
    feed = render_calendar(run.machine.plan, status, run.now)
    assert "X-WR-TIMEZONE:Europe/Berlin" in feed and "Thu 2027-04-15 15:00 CEST" in feed.replace("\r\n ", "")
    report = render_report(run.machine.plan, status, [], run.now)
    assert "Thu 2027-04-15 15:00 CEST</b>2bd of business time left" in report
