"""Gate deadlines and early warnings: a gate's own ``due`` and ladder, and ``warn_at``.

A gate's own ``due`` counts from when it opens, on the clock its unit names (unpaused wall-clock
time, or the calendar's unpaused working time); past it, the gate's ladder (its own, else the
phase's, else the plan's) fires level by level, once per gate attempt. ``warn_at`` on a phase or a
gate warns the people still awaited and the points of contact once per attempt, at that share of
the due time, and sets health ``at_risk``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from models.durations import spoken, spoken_business
from models.messages import GateState
from models.plan import Phase
from workflows.rules import texts
from workflows.rules.awaiting import awaited
from workflows.rules.clock import Deadline, View, is_done
from workflows.rules.gates import opened
from workflows.rules.outbox import Recorder
from workflows.rules.phases import keep_escalation, raise_health
from workflows.rules.versions import NOTICE_NAMES


def gate_due(v: View, phase: Phase, gate: GateState) -> Deadline | None:
    """When ``gate`` falls due on its own ``due``, if it has one and the rules have seen it open."""
    spec = phase.gate(gate.key)
    if spec is None or spec.due is None or gate.opened_active is None:
        return None
    return v.deadline((gate.opened_active, gate.opened_business or 0.0), spec.due)


def gate_due_at(v: View, gate: GateState, now: datetime) -> datetime | None:
    """The wall-clock moment an open gate falls due on its own ``due``, if it has one."""
    phase = v.phase
    due = gate_due(v, phase, gate) if phase and gate.status == "open" else None
    return v.when(due, now) if due else None


def watch(m: Recorder, phase: Phase, now: datetime) -> None:
    """Warn at ``warn_at`` and fire each gate's own ladder past its own ``due``."""
    if m.state.state != "running":
        return
    for gate in m.state.gates:
        spec = phase.gate(gate.key)
        if spec is None or is_done(gate) or (spec.due is None and spec.warn_at is None):
            continue
        start = opened(m, gate, now)
        if spec.due is None:
            continue
        due = m.deadline(start, spec.due)
        if spec.warn_at and not gate.warned and m.passed(m.deadline(start, spec.due, spec.warn_at), now):
            gate.warned = True
            _warn(m, phase, [gate.key], due, now)
        ladder = spec.escalation if spec.escalation is not None else m.plan.ladder(phase)
        for level_no, level in enumerate(ladder, start=1):
            if level_no in gate.fired or not m.passed(m.later(due, level.after), now):
                continue
            gate.fired = [*gate.fired, level_no]
            keep_escalation(m, phase, level_no, level, now, gate.key)
            late = timedelta(seconds=-m.left(due, now))
            detail = {"level": level_no, "gate": gate.key, "late_by": str(late), "health": m.state.health}
            m.audit("escalation", now, gate=gate.key, detail=detail)
            message = texts.gate_escalation(
                m.plan, phase, gate.key, level_no, late, m.state.health, names=m.changed(NOTICE_NAMES)
            )
            m.notify("escalation", message, level.notify, now, detail)
    _warn_phase(m, phase, now)


def _warn_phase(m: Recorder, phase: Phase, now: datetime) -> None:
    if not phase.due or not phase.warn_at or m.state.warned or all(is_done(g) for g in m.state.gates):
        return
    if m.passed(m.deadline(m.phase_start(), phase.due, phase.warn_at), now):
        m.state.warned = True
        own_due = {g.key for g in m.state.gates if (s := phase.gate(g.key)) is not None and s.due is not None}
        keys = [g.key for g in m.state.gates if not is_done(g) and g.key not in own_due]
        if keys:
            _warn(m, phase, keys, m.deadline(m.phase_start(), phase.due), now)


def _warn(m: Recorder, phase: Phase, keys: list[str], due: Deadline, now: datetime) -> None:
    raise_health(m, phase.key, "at_risk")
    waiting = awaited(m, now)
    told = {p.id for p in m.holding(["point_of_contact"])} | {p for p, ks in waiting.items() if set(ks) & set(keys)}
    people = [p for p in m.state.people if p.id in told]
    when = m.when(due, now)
    left = m.left(due, now)
    detail = {"gates": keys, "due_at": when.isoformat() if when else None, "left": left_text(m, due, left)}
    m.audit("deadline_warning", now, gate=keys[0] if len(keys) == 1 else None, detail=detail)
    message = texts.deadline_warning(m.plan, phase, keys, when, left_text(m, due, left), names=m.changed(NOTICE_NAMES))
    m.tell("deadline_warning", message, people, now, detail)


def left_text(v: View, due: Deadline, seconds: float) -> str:
    """Time left until ``due`` as a person reads it: ``2bd 3h`` of business time, else ``3d 4h``."""
    if due.clock == "business" and v.plan.calendar is not None:
        return spoken_business(seconds, v.plan.calendar.day_seconds)
    return spoken(timedelta(seconds=seconds))


def next_moments(v: View, now: datetime) -> list[datetime]:
    """When a warning or a gate's own ladder step next falls due, while running."""
    phase = v.phase
    if phase is None or v.state.state != "running":
        return []
    moments: list[datetime | None] = []
    for gate in v.state.gates:
        spec = phase.gate(gate.key)
        due = gate_due(v, phase, gate)
        if spec is None or due is None or is_done(gate):
            continue
        if spec.warn_at and not gate.warned and spec.due is not None and gate.opened_active is not None:
            start = (gate.opened_active, gate.opened_business or 0.0)
            moments.append(v.when(v.deadline(start, spec.due, spec.warn_at), now))
        ladder = spec.escalation if spec.escalation is not None else v.plan.ladder(phase)
        moments += [v.when(v.later(due, lv.after), now) for n, lv in enumerate(ladder, 1) if n not in gate.fired]
    if phase.due and phase.warn_at and not v.state.warned and not all(is_done(g) for g in v.state.gates):
        moments.append(v.when(v.deadline(v.phase_start(), phase.due, phase.warn_at), now))
    return [t for t in moments if t is not None]
