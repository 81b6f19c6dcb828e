"""Phases over time: check-ins, the escalation ladder, waves, and moving from phase to phase."""

from __future__ import annotations

from datetime import datetime, timedelta

from models.messages import Escalation, GateState, Ledger, PhaseRun
from models.names import STEADY_STATE_NAME
from models.plan import Phase
from models.plan_words import EscalationLevel, Health
from workflows.rules import texts
from workflows.rules.clock import is_done
from workflows.rules.gates import gate_status, open_gate
from workflows.rules.outbox import Recorder
from workflows.rules.versions import NOTICE_NAMES, WAVE_VOLUMES

HEALTH_ORDER = ("on_track", "at_risk", "escalated")


def check_in(m: Recorder, phase: Phase, now: datetime) -> None:
    """Send the check-in that fell due; one, however many were missed while paused."""
    every = m.plan.cadence.check_in
    if not every:
        return
    due = int(m.active_at(now) // every.total_seconds())
    if due <= m.state.check_ins_sent:
        return
    m.state.check_ins_sent = due
    names = m.changed(NOTICE_NAMES)
    waiting = [
        f"{texts.gate_words(m.plan, g.key, names)} ({g.progress})"
        for g in (gate_status(m, g) for g in m.state.gates)
        if g.status == "open"
    ]
    m.notify("check_in", texts.check_in(m.plan, phase, due, m.state.health, waiting), ["point_of_contact"], now)


def escalate(m: Recorder, phase: Phase, now: datetime) -> None:
    """Fire every step of the ladder whose time past the phase's due date has come, once each."""
    if not phase.due or all(is_done(g) for g in m.state.gates):
        return
    due = m.deadline(m.phase_start(), phase.due)
    for level_no, level in enumerate(m.plan.ladder(phase), start=1):
        if level_no in m.state.fired:
            continue
        if isinstance(phase.due, timedelta) and isinstance(level.after, timedelta):
            late = m.phase_elapsed(now) - phase.due
            if late < level.after:
                continue
        elif m.passed(m.later(due, level.after), now):
            late = timedelta(seconds=-m.left(due, now))
        else:
            continue
        open_gates = raise_level(m, phase, level_no, now)
        detail = {"level": level_no, "late_by": str(late), "open_gates": open_gates, "health": m.state.health}
        m.audit("escalation", now, detail=detail)
        message = texts.escalation(
            m.plan, phase, level_no, late, open_gates, m.state.health, names=m.changed(NOTICE_NAMES)
        )
        m.notify("escalation", message, level.notify, now, detail)


def raise_level(m: Recorder, phase: Phase, level_no: int, now: datetime) -> list[str]:
    """Fire level ``level_no`` of the phase's ladder: once per attempt, health raised, the
    escalation kept; returns the gates still open."""
    level = m.plan.ladder(phase)[level_no - 1]
    if level_no not in m.state.fired:
        m.state.fired.append(level_no)
    keep_escalation(m, phase, level_no, level, now)
    return [g.key for g in m.state.gates if not is_done(g)]


def keep_escalation(
    m: Recorder, phase: Phase, level_no: int, level: EscalationLevel, now: datetime, gate: str | None = None
) -> None:
    """Raise health to the level's and keep the escalation (of ``gate``'s own ladder, if named)."""
    raise_health(m, phase.key, level.health)
    notified = [p.id for p in m.holding(level.notify)]
    m.state.escalations.append(
        Escalation(
            phase=phase.key,
            attempt=m.state.attempt,
            level=level_no,
            at=now,
            notified=notified,
            health=level.health,
            gate=gate,
        )
    )


def raise_health(m: Recorder, phase_key: str, health: Health | None) -> None:
    """Raise the transition's health to ``health`` if that is worse; it falls back to on track
    when phase ``phase_key`` passes."""
    if health and HEALTH_ORDER.index(health) > HEALTH_ORDER.index(m.state.health):
        m.state.health = health
        m.state.health_raised_by = phase_key


def next_wave(m: Recorder, now: datetime) -> None:
    """Start the next wave of the phase under way, with its gates fresh."""
    phase = m.phase
    assert phase is not None and phase.waves
    m.state.wave_index += 1
    size = phase.waves[m.state.wave_index]
    m.state.gates = fresh_gates(m, phase)
    m.audit("wave_started", now, detail={"wave": m.state.wave_index + 1, "size": size})
    message = texts.wave_started(m.plan, phase, m.state.wave_index + 1, size, m.changed(WAVE_VOLUMES))
    m.notify("wave_started", message, ["point_of_contact"], now)


def pass_phase(m: Recorder, phase: Phase, now: datetime) -> None:
    """Close the phase under way as passed and begin the next one."""
    close_run(m, "passed", now)
    m.audit("phase_passed", now, detail={"attempt": m.state.attempt})
    if m.state.health_raised_by == phase.key:
        m.state.health = "on_track"
        m.state.health_raised_by = None
    if m.state.program is not None and m.state.phase_index + 1 >= len(m.plan.phases):
        end_workstream(m, now)  # its program governs the contract: no steady state of its own
        return
    begin_phase(m, m.state.phase_index + 1, now)


def end_workstream(m: Recorder, now: datetime) -> None:
    """A workstream past its last phase is done."""
    s = m.state
    m.stop_clocks(now)
    s.state, s.ended_at, s.end_reason = "completed", now, "its last phase passed"
    m.audit("transition_completed", now)
    message = (f"[{m.plan.client}] workstream completed", f"'{m.plan.name}' has passed its last phase.")
    m.notify("completed", message, ["program_manager"], now)


def begin_phase(m: Recorder, index: int, now: datetime) -> None:
    """Enter phase ``index`` (steady state past the last), counting attempts at it."""
    s = m.state
    s.phase_index = index
    s.attempt = 1 + sum(1 for r in s.phases if r.phase == m.phase_key)
    s.wave_index = 0
    s.fired, s.warned = [], False
    s.phase_started_at = now
    s.phase_active_start, s.phase_business_start = m.active_at(now), m.business_at(now)
    phase = m.phase
    s.gates = fresh_gates(m, phase) if phase else []
    if phase is None and m.plan.steady_state:
        s.ledger = Ledger(since=now, active_start=s.phase_active_start, period_started_at=now)
    s.phases.append(PhaseRun(phase=m.phase_key, attempt=s.attempt, started_at=now))
    name = phase.name if phase else STEADY_STATE_NAME
    m.audit("phase_started", now, detail={"attempt": s.attempt, "name": name})
    message = texts.phase_started(m.plan, name, s.attempt, phase.due if phase else None)
    m.notify("phase_started", message, ["point_of_contact"], now)


def fresh_gates(m: Recorder, phase: Phase) -> list[GateState]:
    """The gates of ``phase``, every one open and untouched."""
    return [open_gate(m, g) for g in phase.gates]


def close_run(m: Recorder, outcome: str, now: datetime) -> None:
    """End the latest phase run with ``outcome``."""
    run = m.state.phases[-1]
    run.ended_at, run.outcome = now, outcome  # type: ignore[assignment]
