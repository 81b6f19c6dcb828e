"""`bpo calendar`: an iCalendar feed of a transition's milestones, for the program's shared calendar.

Written with the ``icalendar`` package. A subscribed calendar reads the feed again and again, so:

- every event's UID comes from the transition and what the event is (its phase, gate, workstream),
  never from the moment of export, so a new export updates the same events instead of adding more;
- ``SEQUENCE`` never goes down and grows whenever an event's time may have moved, read from the
  status alone (so two exports of the same status agree) and from nothing the status keeps only
  the newest of (its last decisions): a due's counts the approved amendments first (which may
  move it either way), then the minutes from the transition's start to the due (which, between
  amendments, only moves later: a pause, a rework, a gate reopened after a rejection); the
  baseline and the recurring series count the approved amendments, and a series one more once
  its real anchor or end is known (steady state reached, transition ended);
- a due counted in whole wall-clock days (``14d``, ``2w``) is an all-day event on its day in the
  plan's zone (a due at midnight ends the day before); a due counted in business time or in hours
  keeps its time, in the plan's zone with its VTIMEZONE;
- check-ins and business reviews are one recurring event each (RRULE), anchored at the
  transition's start and at steady state's start (planned, until it is reached), never counted
  from the moment of export.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

import icalendar

from bpo.render import local_time
from bpo.report import planned_phases
from models.calendar import zone as time_zone
from models.names import gate_name
from models.plan import Plan
from models.status import TransitionStatus
from models.workstreams import workstream_plan

MAX_EVENTS = 500
DOMAIN = "bpo-transition"
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Entry:
    """One calendar event: a due, a planned due, or a recurring series (``every`` set)."""

    uid: str
    summary: str
    at: datetime
    description: str
    all_day: bool = False
    sequence: int = 0
    every: timedelta | None = None
    until: datetime | None = None


def _zone(plan: Plan, status: TransitionStatus) -> tzinfo:
    name = plan.calendar.timezone if plan.calendar else status.timezone
    return time_zone(name) if name else UTC


def _whole_days(span: object) -> bool:
    """A wall-clock span of whole days: its due is a day, not a moment (business time keeps its hour)."""
    return isinstance(span, timedelta) and span > timedelta(0) and span % DAY == timedelta(0)


def _amendments(status: TransitionStatus) -> int:
    """The amendments approved so far: ``status.amendments`` keeps every one (its decisions only the newest)."""
    return sum(1 for a in status.amendments if a.status == "approved")


SPAN = 2**22
"""The minutes (about eight years) a due's SEQUENCE gives to its place after the start: with at
most `MAX_AMENDMENTS` above them, a SEQUENCE stays an iCalendar INTEGER (below 2**31)."""
MAX_AMENDMENTS = 2**31 // SPAN - 1


def _due_sequence(status: TransitionStatus, due: datetime) -> int:
    """A due's SEQUENCE: approved amendments first, then minutes from the start to the due.

    Between two amendments a due only moves later (a pause pushes it, a rework or a gate reopened
    after a rejection starts its clock again later), so the minutes never go down; an amendment
    may move it earlier, and takes one more `SPAN`. Nothing here is counted from the status's
    last decisions, which would forget a pause once it scrolled out and lower the SEQUENCE a
    subscribed calendar holds (RFC 5545 3.8.7.4: it then keeps the old time).
    """
    minutes = int((due - status.started_at).total_seconds() // 60)
    return min(_amendments(status), MAX_AMENDMENTS) * SPAN + min(max(minutes, 0), SPAN - 1)


def dues(plan: Plan, status: TransitionStatus) -> list[Entry]:
    """The current phase's due date and its gates', under uids that start with the transition's id."""
    events: list[Entry] = []
    phase = next((p for p in plan.phases if p.key == status.phase), None)
    if status.phase_due_at and status.phase != "steady_state":
        local = f" ({local_time(status.phase_due_at, status.timezone)})" if status.timezone else ""
        left = f"; {status.business_left} of business time left" if status.business_left else ""
        about = f"Due date of the current phase{local}, moved by any pause{left}."
        whole = phase is not None and _whole_days(phase.due)
        events.append(
            Entry(
                f"{status.id}-due-{status.phase}",
                f"{status.phase_name} due",
                status.phase_due_at,
                about,
                whole,
                _due_sequence(status, status.phase_due_at),
            )
        )
    for gate in status.gates:
        if gate.due_at:
            local = f" ({local_time(gate.due_at, status.timezone)})" if status.timezone else ""
            spec = phase.gate(gate.key) if phase is not None else None
            whole = spec is not None and _whole_days(spec.due)
            events.append(
                Entry(
                    f"{status.id}-due-{status.phase}-{gate.key}",
                    f"{gate_name(plan, gate.key)} due",
                    gate.due_at,
                    f"Due date of the gate{local}.",
                    whole,
                    _due_sequence(status, gate.due_at),
                )
            )
    return events


def entries(plan: Plan, status: TransitionStatus) -> list[Entry]:
    """Every event of the transition's own feed: dues, the baseline ahead, check-ins, business reviews."""
    events = dues(plan, status)
    amended = _amendments(status)
    current = next((i for i, p in enumerate(plan.phases) if p.key == status.phase), len(plan.phases))
    planned = planned_phases(plan, status.started_at)
    for index, span in enumerate(planned):
        if index > current:
            phase = plan.phases[index]
            whole = _whole_days(phase.due or phase.min_duration or timedelta(days=14))
            summary = f"{phase.name} due (planned)"
            about = "Baseline due date from the plan's starts_on."
            events.append(Entry(f"{status.id}-planned-{span.label}", summary, span.end, about, whole, amended))
    ended = status.ended_at
    if plan.cadence.check_in:
        # the series ends where check-ins stop: steady state reached, or the transition over
        until = status.phase_started_at if status.phase == "steady_state" else ended
        events.append(
            Entry(
                f"{status.id}-check-in",
                f"Check-in: {plan.name}",
                status.started_at + plan.cadence.check_in,
                "Transition check-in with the points of contact.",
                sequence=amended + (until is not None),
                every=plan.cadence.check_in,
                until=until,
            )
        )
    if plan.cadence.business_review:
        reached = status.phase == "steady_state"
        start = status.phase_started_at if reached else max((s.end for s in planned), default=status.started_at)
        last = plan.steady_state.until if plan.steady_state and plan.steady_state.until else None
        until = ended or (datetime.combine(last, time(0), tzinfo=UTC) if last else None)
        events.append(
            Entry(
                f"{status.id}-review",
                f"Quarterly business review: {plan.name}",
                start + plan.cadence.business_review,
                "Review settlements, SLA breaches and open escalations.",
                sequence=amended + reached + (ended is not None),
                every=plan.cadence.business_review,
                until=until,
            )
        )
    # a series that ended before its first occurrence has none: left out rather than sent empty
    return [e for e in events if e.every is None or e.until is None or e.until >= e.at]


def occurrences(entry: Entry, zone: tzinfo, horizon: datetime) -> list[Entry]:
    """A series' occurrences up to ``horizon`` (or its end), each on the local hour the RRULE keeps."""
    if entry.every is None:
        return [entry]
    found, at, n = [], entry.at.astimezone(zone), 0
    while at <= horizon and (entry.until is None or at <= entry.until) and n < MAX_EVENTS:
        found.append(replace(entry, at=at.astimezone(UTC), every=None, until=None))
        n += 1
        at = entry.at.astimezone(zone) + entry.every * n  # wall-clock steps in the zone, as RRULE counts
    return found


def milestones(plan: Plan, status: TransitionStatus, now: datetime) -> list[tuple[str, str, datetime, str]]:
    """(uid, summary, when, description) for every milestone, the series spelled out to three years ahead
    (`bpo qbr` lists the next quarter's dates from it)."""
    horizon, zone = now + timedelta(days=3 * 365), _zone(plan, status)
    events = [o for e in entries(plan, status) for o in occurrences(e, zone, horizon)]
    return [(e.uid, e.summary, e.at, e.description) for e in events[:MAX_EVENTS]]


def stream_dues(plan: Plan, status: TransitionStatus, streams: Mapping[str, TransitionStatus]) -> list[Entry]:
    """Each running workstream's dues, a program's (``streams`` its workstreams' own statuses, by
    key). A uid begins with the workstream's id, as in the workstream's own calendar, so an entry
    keeps its uid in either feed."""
    events = []
    for w in status.workstreams:
        stream = streams.get(w.key)
        own = workstream_plan(plan, w.key) if plan.workstream(w.key) is not None else plan  # its gates' names
        if stream is None and w.state in ("running", "paused") and w.next_due and w.phase:
            # not read now: its phase's due as the program last read it, under the same uid; its
            # sequence unknown here, 0 (the workstream's own feed carries the count)
            about = f"Due date of the current phase. Workstream {w.key} of program {status.id}."
            phase = next((p for p in own.phases if p.key == w.phase), None)
            whole = phase is not None and _whole_days(phase.due)
            events.append(Entry(f"{w.id}-due-{w.phase}", f"{w.name}: {w.phase} due", w.next_due, about, whole))
            continue
        if stream is None or stream.state not in ("running", "paused"):
            continue  # not started, or done: nothing due
        for entry in dues(own, stream):
            about = f"{entry.description} Workstream {w.key} of program {status.id}."
            events.append(replace(entry, summary=f"{w.name}: {entry.summary}", description=about))
    return events


def _day_of(moment: datetime, zone: tzinfo) -> date:
    """The local day a due falls on; a due at midnight ends the day before."""
    return (moment.astimezone(zone) - timedelta(microseconds=1)).date()


def _rule(every: timedelta, until: datetime | None) -> dict[str, Any]:
    seconds = int(every.total_seconds())
    units = (("WEEKLY", 7 * 86400), ("DAILY", 86400), ("HOURLY", 3600), ("MINUTELY", 60))
    freq, unit = next(((f, u) for f, u in units if seconds % u == 0), units[-1])
    rule: dict[str, Any] = {"FREQ": freq, "INTERVAL": max(seconds // unit, 1)}
    if until is not None:
        rule["UNTIL"] = until.astimezone(UTC)
    return rule


def _event(entry: Entry, zone: tzinfo, now: datetime) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", f"{entry.uid}@{DOMAIN}")
    event.add("dtstamp", now.astimezone(UTC))
    event.add("sequence", entry.sequence)
    if entry.all_day:
        day = _day_of(entry.at, zone)
        event.add("dtstart", day)
        event.add("dtend", day + DAY)
        event.add("transp", "TRANSPARENT")  # a deadline, not a meeting: the day stays free
    else:
        event.add("dtstart", entry.at.astimezone(zone))
        event.add("dtend", (entry.at + timedelta(hours=1)).astimezone(zone))
    if entry.every is not None:
        event.add("rrule", _rule(entry.every, entry.until))
    event.add("summary", entry.summary)
    event.add("description", entry.description)
    return event


def render_calendar(
    plan: Plan, status: TransitionStatus, now: datetime, streams: Mapping[str, TransitionStatus] | None = None
) -> str:
    """The iCalendar text (RFC 5545), CRLF line endings; a program's carries its workstreams'
    dues too (``streams``, their statuses by key, `bpo.lanes.streams_of`). ``now`` only stamps it
    (DTSTAMP): no event's uid, time or recurrence depends on it."""
    zone = _zone(plan, status)
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//bpo-transition//calendar//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", plan.name)
    if plan.calendar:
        calendar.add("x-wr-timezone", plan.calendar.timezone)
    events = entries(plan, status) + stream_dues(plan, status, streams or {})
    for entry in events[:MAX_EVENTS]:
        calendar.add_component(_event(entry, zone, now))
    calendar.add_missing_timezones()
    return calendar.to_ical().decode()
