"""`bpo calendar`: an iCalendar file of a transition's milestones, for the program's shared calendar."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta

from bpo.render import local_time
from bpo.report import planned_phases
from models.names import gate_name
from models.plan import Plan
from models.status import TransitionStatus
from models.workstreams import workstream_plan

MAX_EVENTS = 500


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _fold(line: str) -> Iterator[str]:
    """RFC 5545 lines of at most 75 octets, continued with a leading space."""
    data = line.encode()
    while len(data) > 75:
        cut = 75
        while (data[cut] & 0xC0) == 0x80:  # never split a UTF-8 character
            cut -= 1
        yield data[:cut].decode()
        data = b" " + data[cut:]
    yield data.decode()


def dues(plan: Plan, status: TransitionStatus) -> list[tuple[str, str, datetime, str]]:
    """(uid suffix, summary, when, description) of the current phase's due date and its gates'."""
    events: list[tuple[str, str, datetime, str]] = []
    if status.phase_due_at and status.phase != "steady_state":
        local = f" ({local_time(status.phase_due_at, status.timezone)})" if status.timezone else ""
        left = f"; {status.business_left} of business time left" if status.business_left else ""
        events.append(
            (
                f"due-{status.phase}",
                f"{status.phase_name} due",
                status.phase_due_at,
                f"Due date of the current phase{local}, moved by any pause{left}.",
            )
        )
    for gate in status.gates:
        if gate.due_at:
            local = f" ({local_time(gate.due_at, status.timezone)})" if status.timezone else ""
            summary = f"{gate_name(plan, gate.key)} due"
            events.append((f"due-{status.phase}-{gate.key}", summary, gate.due_at, f"Due date of the gate{local}."))
    return events


def milestones(plan: Plan, status: TransitionStatus, now: datetime) -> list[tuple[str, str, datetime, str]]:
    """(uid suffix, summary, when, description) for every milestone worth a calendar entry."""
    events = dues(plan, status)
    current = next((i for i, p in enumerate(plan.phases) if p.key == status.phase), len(plan.phases))
    planned = planned_phases(plan, status.started_at)
    for index, span in enumerate(planned):
        if index > current:
            events.append(
                (
                    f"planned-{span.label}",
                    f"{plan.phases[index].name} due (planned)",
                    span.end,
                    "Baseline due date from the plan's starts_on.",
                )
            )
    horizon = now + timedelta(days=3 * 365)
    if plan.cadence.check_in and status.phase != "steady_state":
        for n in range(1, 27):  # the next six months of weekly check-ins
            at = now + plan.cadence.check_in * n
            events.append(
                (
                    f"check-in-{at:%Y%m%d}",
                    f"Check-in: {plan.name}",
                    at,
                    "Transition check-in with the points of contact.",
                )
            )
    if plan.cadence.business_review:
        start = (
            status.phase_started_at if status.phase == "steady_state" else max((s.end for s in planned), default=now)
        )
        end = min(
            horizon,
            datetime.combine(plan.steady_state.until, datetime.min.time(), tzinfo=UTC)
            if plan.steady_state and plan.steady_state.until
            else horizon,
        )
        at = start + plan.cadence.business_review
        while at <= end and len(events) < MAX_EVENTS:
            events.append(
                (
                    f"review-{at:%Y%m%d}",
                    f"Quarterly business review: {plan.name}",
                    at,
                    "Review settlements, SLA breaches and open escalations.",
                )
            )
            at += plan.cadence.business_review
    return events[:MAX_EVENTS]


def stream_dues(
    plan: Plan, status: TransitionStatus, streams: Mapping[str, TransitionStatus]
) -> list[tuple[str, str, datetime, str]]:
    """(uid, summary, when, description) of each running workstream's dues, a program's
    (``streams`` its workstreams' own statuses, by key). A uid begins with the workstream's id,
    as in the workstream's own calendar, so an entry keeps its uid in either feed."""
    events = []
    for w in status.workstreams:
        stream = streams.get(w.key)
        if stream is None and w.state in ("running", "paused") and w.next_due and w.phase:
            # not read now: its phase's due as the program last read it, under the same uid
            about = f"Due date of the current phase. Workstream {w.key} of program {status.id}."
            events.append((f"{w.id}-due-{w.phase}", f"{w.name}: {w.phase} due", w.next_due, about))
            continue
        if stream is None or stream.state not in ("running", "paused"):
            continue  # not started, or done: nothing due
        own = workstream_plan(plan, w.key) if plan.workstream(w.key) is not None else plan  # its gates' names
        for suffix, summary, at, description in dues(own, stream):
            about = f" Workstream {w.key} of program {status.id}."
            events.append((f"{stream.id}-{suffix}", f"{w.name}: {summary}", at, description + about))
    return events


def render_calendar(
    plan: Plan, status: TransitionStatus, now: datetime, streams: Mapping[str, TransitionStatus] | None = None
) -> str:
    """The iCalendar text (RFC 5545), CRLF line endings; a program's carries its workstreams'
    dues too (``streams``, their statuses by key, `bpo.lanes.streams_of`)."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//bpo-transition//calendar//EN",
        "CALSCALE:GREGORIAN",
        f"X-WR-CALNAME:{_escape(plan.name)}",
        *([f"X-WR-TIMEZONE:{plan.calendar.timezone}"] if plan.calendar else []),
    ]
    own = [
        (f"{status.id}-{suffix}", summary, at, about) for suffix, summary, at, about in milestones(plan, status, now)
    ]
    for uid, summary, at, description in own + stream_dues(plan, status, streams or {}):
        lines += [
            "BEGIN:VEVENT",
            f"UID:{uid}@bpo-transition",
            f"DTSTAMP:{_stamp(now)}",
            f"DTSTART:{_stamp(at)}",
            f"DTEND:{_stamp(at + timedelta(hours=1))}",
            f"SUMMARY:{_escape(summary)}",
            f"DESCRIPTION:{_escape(description)}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "\r\n".join(folded for line in lines for folded in _fold(line)) + "\r\n"
