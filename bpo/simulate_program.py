"""`bpo simulate` for a program: each workstream's start and go-live, the program's go-live, and
the critical path, the chain of workstreams (through their ``after:``) that holds the program's
date (semantics: "Workstreams").

A program is forecast by its rules alone (`workflows.rules`, the rules its workflows run), in
plain Python with its own clock: the program and every workstream it starts are driven side by
side, every gate decided at the same share of its phase's due time as `bpo.simulate` decides a
plain plan's, each workstream started when the program reaches its first ``workstreams`` phase
and its ``after`` phases have passed, and its reports handed to the program as the workflow's
signals would. Deterministic: the same plan and share forecast the same dates.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from pydantic import BaseModel

from bpo.simulate import ID, Forecast, PhaseForecast, after, decision_time, decisions
from models.audit_events import event_of
from models.audit_events.happenings import Escalation, Settled
from models.deliveries import AuditEntry, Notice
from models.gates import WorkstreamsGate
from models.plan import Plan
from models.program import ProgramLink, WorkstreamReport
from models.workstreams import named, program_gates, workstream_id, workstream_plan
from workflows.rules import Machine
from workflows.rules.program import report

MAX_STEPS = 200_000
"""Moments the forecast looks at before it gives up: far beyond any plan's years of reminders."""

_SLACK = timedelta(minutes=5)
"""How close two moments are to count as the one that set the other (a start after a report)."""


class WorkstreamForecast(BaseModel):
    """One workstream of the forecast: when it starts, each phase, and its go-live (the end of its
    last phase)."""

    key: str
    name: str
    after: dict[str, str] = {}
    waits_for: str | None = None
    """The dependency that set its start ("email's pilot"), when one did."""
    started: datetime | None = None
    go_live: datetime | None = None
    stuck: str | None = None
    phases: list[PhaseForecast] = []


class ProgramForecast(Forecast):
    """What `bpo simulate` prints for a program: the plain forecast, with its workstreams and the
    critical path (its keys in order, each waiting for the one before it; and the sentence)."""

    workstreams: list[WorkstreamForecast] = []
    critical_path: list[str] = []
    critical_path_text: str = ""


@dataclass
class _Lane:
    """One transition under the rules (the program, or a workstream) and what the forecast saw."""

    plan: Plan
    machine: Machine
    phases: list[PhaseForecast] = field(default_factory=list)
    seen: tuple[str, int, int] | None = None
    pending: datetime | None = None
    reported: WorkstreamReport | None = None
    stuck: str | None = None


def forecast_program(
    plan: Plan, decide_at: float = 0.5, years: int = 1, started: datetime | None = None
) -> ProgramForecast:
    """Forecast a plan with workstreams from ``started`` (its ``starts_on``, or now): every gate
    decided at ``decide_at`` of its phase's due time, then ``years`` of the program's steady state."""
    began = time.perf_counter()
    now = started or _opening(plan)
    program = _Lane(plan, Machine.start(plan, ID, now))
    lanes: dict[str, _Lane] = {}
    audit: list[AuditEntry] = []
    notices: list[Notice] = []
    forecast = ProgramForecast(plan=plan.name, decide_at=decide_at, started=now)
    for _ in range(MAX_STEPS):
        _settle(plan, program, lanes, now, decide_at)
        for lane in (program, *lanes.values()):
            out = lane.machine.take_outbox()
            audit += out.audit
            notices += out.notices
        status = program.machine.status(now)
        live = [lane for lane in (program, *lanes.values()) if lane.machine.state.state == "running"]
        if status.phase == "steady_state" or status.state != "running" or all(_idle(lane, now) for lane in live):
            break  # gone live, or nothing left that moves a phase (a stuck workstream holds the rest)
        moments = [m for lane in live for m in (lane.pending, lane.machine.next_wakeup(now)) if m is not None]
        if not moments:
            break
        now = max(min(moments), now)
        for lane in live:
            lane.machine.advance(now)
    if status.phase == "steady_state":
        forecast.go_live = status.phase_started_at
        end = now + timedelta(days=365 * years)
        while (wake := program.machine.next_wakeup(now)) is not None and wake <= end:
            now = max(wake, now)
            program.machine.advance(now)
        out = program.machine.take_outbox()
        audit, notices = audit + out.audit, notices + out.notices
    else:
        forecast.stuck = next((f"{k}: {lane.stuck}" for k, lane in lanes.items() if lane.stuck), None) or (
            program.stuck or f"{status.phase}: it does not pass"
        )
    _fill(forecast, plan, program, lanes, now)
    _tally(forecast, audit, notices)
    forecast.critical_path, forecast.critical_path_text = critical_path(plan, forecast)
    forecast.seconds = round(time.perf_counter() - began, 2)
    return forecast


def _opening(plan: Plan) -> datetime:
    """When the forecast starts: the plan's ``starts_on`` (midnight UTC) unless it is past, as
    `bpo.simulate` starts a plain plan."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    if plan.starts_on:
        opening = datetime.combine(plan.starts_on, datetime.min.time(), tzinfo=UTC)
        return max(opening, now)
    return now


def _settle(plan: Plan, program: _Lane, lanes: dict[str, _Lane], now: datetime, share: float) -> None:
    """Everything that happens at ``now`` until nothing more does: workstreams started, their
    reports taken by the program, the gates whose moment has come decided."""
    moved = True
    while moved:
        moved = False
        for key in program.machine.take_starts():  # as `workflows.program` starts one: the roster as it is now
            link = ProgramLink(program=ID, key=key)
            stream = workstream_plan(plan, key).model_copy(update={"people": list(program.machine.state.people)})
            lanes[key] = _Lane(stream, Machine.start(stream, workstream_id(ID, key), now, link=link))
            program.machine.workstream_started(key, now)
            moved = True
        for key, lane in lanes.items():  # a workstream signals a change; its program reads it
            sent = report(lane.machine, now).model_copy(update={"seq": 1})  # as the workflow compares
            if sent != lane.reported:
                lane.reported = sent
                program.machine.workstream_changed(key)
                moved = True
        while (read := program.machine.take_read()) is not None:
            found = report(lanes[read.key].machine, now).model_copy(update={"seq": read.seq})
            program.machine.workstream_reported(found, now)
        for lane in (program, *lanes.values()):
            moved |= _decide(lane, now, share)


def _decide(lane: _Lane, now: datetime, share: float) -> bool:
    """Decide the lane's open gates if their moment has come, as `bpo.simulate` does; note a
    phase begun, and a lane that waits for nothing it can be given (stuck). True if it acted."""
    status = lane.machine.status(now)
    if status.state != "running" or status.phase == "steady_state":
        return False
    phase = next(p for p in lane.plan.phases if p.key == status.phase)
    key = (status.phase, status.reworks, status.wave or 0)
    wave = (status.wave or 1) - 1
    if key != lane.seen:
        lane.seen = key
        if wave == 0:
            due = after(lane.plan, phase, status.phase_started_at)
            lane.phases.append(PhaseForecast(phase=phase.key, started=status.phase_started_at, due=due))
        lane.pending = decision_time(lane.plan, phase, status.phase_started_at, share, wave)
    if lane.pending is not None and lane.pending <= now:
        lane.pending = None
        for command in decisions(lane.plan, status, wave):
            lane.machine.apply(command, now)
        return True
    if lane.pending is None and (status.earliest_pass_at is None or status.earliest_pass_at <= now):
        waiting = [g for g in status.gates if g.status == "open" and not isinstance(phase.gate(g.key), WorkstreamsGate)]
        if waiting:
            lane.stuck = f"{status.phase}: " + ", ".join(f"{g.key} ({g.progress})" for g in waiting)
    return False


def _idle(lane: _Lane, now: datetime) -> bool:
    """Whether nothing more moves the lane by itself: no decision to come, no ``min_duration``
    to wait out (only the program's gate, or a stuck gate, left open)."""
    earliest = lane.machine.status(now).earliest_pass_at
    return lane.pending is None and (earliest is None or earliest <= now)


def _passes(lane: _Lane, now: datetime) -> None:
    """Note when each phase the lane began passed, from its phase history."""
    history = lane.machine.status(now).history
    for forecast in lane.phases:
        runs = [r for r in history if r.phase == forecast.phase and r.ended_at and r.outcome == "passed"]
        forecast.passed = runs[-1].ended_at if runs else None


def _fill(forecast: ProgramForecast, plan: Plan, program: _Lane, lanes: dict[str, _Lane], now: datetime) -> None:
    _passes(program, now)
    forecast.phases = program.phases
    for stream in plan.workstreams:
        lane = lanes.get(stream.key)
        line = WorkstreamForecast(key=stream.key, name=stream.name, after=dict(stream.after))
        if lane is not None:
            _passes(lane, now)
            line.started, line.phases, line.stuck = lane.machine.state.started_at, lane.phases, lane.stuck
            if lane.machine.state.state == "completed" and lane.phases:
                line.go_live = lane.phases[-1].passed
        forecast.workstreams.append(line)
    by_key = {w.key: w for w in forecast.workstreams}
    for line in forecast.workstreams:  # the dependency whose phase passed last set its start
        held: list[tuple[datetime, str, str]] = []
        for k, p in line.after.items():
            passed = _passed(by_key[k], p) if k in by_key else None
            # one passed well before the start did not set it: the program reached its phase later
            if passed is not None and line.started is not None and passed >= line.started - _SLACK:
                held.append((passed, k, p))
        if held:
            _, k, p = max(held, key=lambda h: h[0])
            line.waits_for = f"{k}'s {p}"


def _passed(line: WorkstreamForecast, phase: str) -> datetime | None:
    return next((p.passed for p in line.phases if p.phase == phase), None)


def _tally(forecast: ProgramForecast, audit: list[AuditEntry], notices: list[Notice]) -> None:
    events = [event_of(SimpleNamespace(**a.model_dump(exclude={"id", "signature"}))) for a in audit]
    for e in events:
        if isinstance(e, Escalation):
            where = e.phase if e.transition_id == ID else f"{e.transition_id.rpartition('/')[2]}/{e.phase}"
            forecast.escalations.append(f"{e.at:%Y-%m-%d} {where} level {e.level}" + (f" ({e.gate})" if e.gate else ""))
    forecast.notices = dict(Counter(n.kind for n in notices))
    settled = [e for e in events if isinstance(e, Settled) and e.transition_id == ID]
    forecast.settlements, forecast.credits = len(settled), round(sum(e.credit for e in settled), 2)


def critical_path(plan: Plan, forecast: ProgramForecast) -> tuple[list[str], str]:
    """The workstreams that hold the program's date, first to last, and the sentence saying so:
    the one whose gate-moment came last among those the program's last ``workstreams`` gate waits
    for, back through each ``after`` that set a start."""
    gates = list(program_gates(plan))
    by_key = {w.key: w for w in forecast.workstreams}
    stuck = next((w.key for w in forecast.workstreams if w.stuck), None)
    if not gates or (forecast.go_live is None and stuck is None):
        return [], "critical path: none (the program does not go live)"
    _, _, gate = gates[-1]
    moments = [(m, k) for k in named(plan, gate) if k in by_key and (m := _done(by_key[k], gate.passed)) is not None]
    if stuck is not None:  # one that never goes live holds the program's date for ever
        last = stuck
    elif moments:
        _, last = max(moments, key=lambda m: m[0])  # ties: the first in the plan's order
    else:
        return [], "critical path: the program's own phases"
    path, reasons = [last], list[str]()
    while (waits := by_key[path[0]].waits_for) is not None:
        before = waits.split("'s ", 1)[0]
        if before in path:
            break
        reasons.insert(0, f"{path[0]} waits for {waits}")
        path.insert(0, before)
    never = f"; {last} never goes live" if stuck is not None else ""
    return path, "critical path: " + " → ".join(path) + (f" ({'; '.join(reasons)})" if reasons else "") + never


def _done(line: WorkstreamForecast, passed: str) -> datetime | None:
    return line.go_live if passed == "all" else _passed(line, passed)


NOT_MEASURED = {"history_events", "runs", "largest_run"}
"""Fields of the plain forecast a program's has no answer for: no server keeps its histories."""


def program_json(f: ProgramForecast) -> str:
    """The program's forecast as `bpo simulate --json` prints it."""
    return f.model_dump_json(indent=2, exclude=NOT_MEASURED)


def program_text(f: ProgramForecast) -> str:
    """The program's forecast as a person reads it: the program's phases, a line per workstream
    (its start and go-live), the program's go-live, the critical path, and what the decisions
    would cause."""
    from bpo.render import table
    from bpo.simulate import outcome_lines, phase_lines

    rows = [
        (
            w.key,
            f"{w.started:%Y-%m-%d}" if w.started else "-",
            f"{w.go_live:%Y-%m-%d}" if w.go_live else (f"never: {w.stuck}" if w.stuck else "-"),
            w.waits_for or "-",
        )
        for w in f.workstreams
    ]
    lines = [*phase_lines(f), "", *table(("WORKSTREAM", "STARTS", "GO-LIVE", "WAITS FOR"), rows).splitlines()]
    lines.append(f"Program go-live: {f.go_live:%a %Y-%m-%d}" if f.go_live else f"Program go-live: never: {f.stuck}")
    lines += [f.critical_path_text, "", *outcome_lines(f)]
    lines.append(f"Forecast by the rules alone, the program and its workstreams side by side, in {f.seconds:.1f} s")
    return "\n".join(lines)
