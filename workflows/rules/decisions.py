"""What each command changes, once `workflows.rules.checks` has allowed it.

One function per command, named after it; `Machine.apply` dispatches to them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from models.commands import (
    Approve,
    Cancel,
    ChangeRoster,
    Command,
    Delegate,
    Escalate,
    Pause,
    ReadingsBatch,
    RecordReadings,
    Reject,
    Resume,
    Score,
    Tick,
    Waive,
)
from models.evidence import EvidencePin
from models.messages import Delegation, Signoff
from models.plan import NOTIFIED_OF_CONTROL
from workflows.rules import readings, texts
from workflows.rules.gates import gate_passed, open_gate
from workflows.rules.kinds import kind_of
from workflows.rules.ledger import record_steady, unsettled
from workflows.rules.lookups import escalation_level, gate_of, recorded_readings
from workflows.rules.outbox import Recorder
from workflows.rules.phases import begin_phase, close_run, raise_level
from workflows.rules.versions import NOTICE_NAMES, PHASE_BREACH_ALERTS, READINGS_STAND

MAX_BREACHES = 500
MAX_DELEGATIONS = 200


def approve(m: Recorder, command: Approve, now: datetime, pin: EvidencePin | None = None) -> None:
    """Count an approval; the gate passes when its approvers' rule is met. ``pin`` is its
    evidence as fetched and kept when the approval came."""
    on_gate(m, command, now, pin=pin)


def on_gate(m: Recorder, command: Approve | Tick | Score, now: datetime, **extra: object) -> None:
    """Let the gate's kind record a decision it takes (a tick, a scoring, an approval with its
    ``pin``); pass the gate once its condition holds."""
    spec, gate = gate_of(m, command.gate)
    kind = kind_of(spec)
    assert command.update in kind.takes
    kind.apply(m, spec, gate, command, now, **extra)
    if kind.met(m, spec, gate):
        gate_passed(m, gate, now)


def waive(m: Recorder, command: Waive, now: datetime) -> None:
    """Pass a gate without its condition."""
    _, gate = gate_of(m, command.gate)
    gate.status = "waived"
    gate.decision = Signoff(by=command.by, at=now, note=command.reason)
    m.decided("waived", gate.key, command, now, command.reason)


def reject(m: Recorder, command: Reject, now: datetime) -> None:
    """Send the transition back for rework, or halt it when no rework is left."""
    phase = m.phase
    assert phase is not None
    _, gate = gate_of(m, command.gate)
    m.decided("rejected", gate.key, command, now, command.reason)
    rework = phase.on_reject
    done = m.state.reworks.get(phase.key, 0)
    if rework and done < rework.max_reworks:
        m.state.reworks[phase.key] = done + 1
        target = m.plan.phase_index(rework.back_to)
        assert target is not None
        close_run(m, "reworked", now)
        back_to, most, names = m.plan.phases[target], rework.max_reworks, m.changed(NOTICE_NAMES)
        message = texts.rework(
            m.plan, phase, back_to, command.by, gate.key, command.reason, done + 1, most, names=names
        )
        detail = {"gate": gate.key, "back_to": rework.back_to, "rework": done + 1}
        m.notify("rework", message, NOTIFIED_OF_CONTROL, now, detail)
        begin_phase(m, target, now)
        return
    gate.status = "rejected"
    gate.decision = Signoff(by=command.by, at=now, note=command.reason)
    m.state.health = "escalated"
    m.state.health_raised_by = phase.key
    why = "no rework is allowed" if not rework else f"the {rework.max_reworks} reworks allowed are used up"
    names = m.changed(NOTICE_NAMES)
    message = texts.halted(m.plan, phase, command.by, gate.key, command.reason, why, names=names)
    m.notify("gate_rejected", message, ["executive_sponsor"], now, {"gate": gate.key})
    m.audit("halted", now, gate=gate.key, actor=command.by, detail={"reason": command.reason})
    pause_clock(m, now, f"gate '{texts.gate_words(m.plan, gate.key, names)}' rejected: {command.reason}")


def record_batch(m: Recorder, command: ReadingsBatch, now: datetime) -> None:
    """Record several periods' readings, in order; the first period's audit row keeps the batch's
    provenance and signature, which covers them all."""
    for n, batch in enumerate(command.batches):
        record_readings(m, batch, now, sent=command, signed=n == 0)


def record_readings(
    m: Recorder,
    command: RecordReadings,
    now: datetime,
    sent: Command | None = None,
    signed: bool = True,
    provenance: dict[str, object] | None = None,
) -> None:
    """Record one period's readings: toward the open KPI gates, or into steady state's ledger.
    ``sent`` is the command as it came (a batch, for a file); ``signed`` puts its signature on this
    row; ``provenance`` says where a feed's readings came from (its name and the document's hash)."""
    phase = m.phase
    detail: dict[str, object] = {"period": command.period, "values": command.values, **(provenance or {})}
    kind = "kpi_reading"
    stands = m.changed(READINGS_STAND)
    latest = list(command.values)
    if command.correct:  # both values stay in the trail: what was recorded, and what replaces it
        was = recorded_readings(m, command.period)
        kind, detail["was"], detail["reason"] = "kpi_corrected", {k: was[k] for k in command.values}, command.reason
        if stands:
            by = readings.recorded_by(m, command.period)
            detail["was_by"] = {k: by.get(k) for k in command.values}
            latest = readings.newest(m, command.period, latest)
    booked = command
    if stands and phase is None and command.correct:
        booked, settled = unsettled(m, command)
        if settled:  # counted by a settlement already sent, which stands
            detail["settled"] = settled
    m.audit(kind, now, actor=command.by, detail=detail, command=sent or command, signed=signed)
    if stands:
        readings.stand(m, command)
        m.state.latest = {**m.state.latest, **{k: command.values[k] for k in latest}}
    else:
        m.state.latest = {**m.state.latest, **command.values}
    if phase is None:
        if booked.values:
            record_steady(m, booked, now)
        return
    if m.changed(PHASE_BREACH_ALERTS):
        alert_breaches(m, command, phase.name, now)
    for gate in m.state.gates:
        spec = phase.gate(gate.key)
        if spec is None or "readings" not in kind_of(spec).takes or gate.status != "open":
            continue
        counted = kind_of(spec).apply(m, spec, gate, command, now, stands=stands)
        if counted and kind_of(spec).met(m, spec, gate):
            gate_passed(m, gate, now)


def delegate(m: Recorder, command: Delegate, now: datetime) -> None:
    """Start a delegation, or end the person's delegations in force."""
    s = m.state
    if command.end:
        s.delegations = [
            d.model_copy(update={"ended_at": now}) if d.person == command.person and d.ended_at is None else d
            for d in s.delegations
        ]
        m.decided("delegation_ended", None, command, now, None, {"person": command.person})
        return
    assert command.to is not None and command.until is not None
    s.delegations = [
        *s.delegations,
        Delegation(person=command.person, to=command.to, until=command.until, by=command.by, at=now),
    ][-MAX_DELEGATIONS:]
    detail = {"person": command.person, "to": command.to, "until": command.until.isoformat()}
    m.decided("delegated", None, command, now, None, detail)
    people = [p for p in s.people if p.id in (command.person, command.to)]
    m.tell("delegated", texts.delegated(m.plan, command.person, command.to, command.until), people, now, detail)


def alert_breaches(m: Recorder, command: RecordReadings, phase: str, now: datetime) -> None:
    """Tell the breach roles of each reading that misses its SLA, once per KPI and period label."""
    for metric, value in command.values.items():
        kpi, key = m.plan.kpi(metric), f"{metric}#{command.period}"
        if kpi is None or kpi.meets_sla(value) or key in m.state.breaches:
            continue
        m.state.breaches = [*m.state.breaches, key][-MAX_BREACHES:]
        detail = {"kpi": metric, "value": value, "sla": kpi.sla, "label": command.period}
        m.audit("sla_breach", now, actor=command.by, detail=detail)
        m.notify(
            "sla_breach",
            texts.sla_breach(m.plan, kpi, value, command.period, None, phase),
            m.plan.breach_alerted,
            now,
            detail,
        )


def pause(m: Recorder, command: Pause, now: datetime) -> None:
    """Stop every clock until someone resumes."""
    m.decided("paused", None, command, now, command.reason)
    m.notify("paused", texts.paused(m.plan, command.by, command.reason), NOTIFIED_OF_CONTROL, now)
    pause_clock(m, now, command.reason)


def pause_clock(m: Recorder, now: datetime, reason: str) -> None:
    """Stop the clocks at ``now``, keeping the unpaused time run so far."""
    s = m.state
    m.stop_clocks(now)
    s.state = "paused"
    s.paused_since = now
    s.pause_reason = reason


def resume(m: Recorder, command: Resume, now: datetime) -> None:
    """Start the clocks again and reopen a rejected gate."""
    s = m.state
    assert s.paused_since is not None
    paused_for = (now - s.paused_since).total_seconds()
    s.paused_seconds += paused_for
    s.state, s.clock_at, s.paused_since, s.pause_reason = "running", now, None, None
    reopened = [g.key for g in s.gates if g.status == "rejected"]
    phase = m.phase
    assert phase is not None or not reopened
    s.gates = [open_gate(m, phase.gate(g.key)) if g.status == "rejected" else g for g in s.gates]  # type: ignore[arg-type,union-attr]
    detail = {"paused_seconds": paused_for, "reopened": reopened}
    m.decided("resumed", None, command, now, command.reason, detail)
    message = texts.resumed(m.plan, command.by, timedelta(seconds=paused_for), reopened, names=m.changed(NOTICE_NAMES))
    m.notify("resumed", message, NOTIFIED_OF_CONTROL, now)


def cancel(m: Recorder, command: Cancel, now: datetime) -> None:
    """End the transition for good."""
    s = m.state
    if s.state == "paused" and s.paused_since:
        s.paused_seconds += (now - s.paused_since).total_seconds()
    m.stop_clocks(now)
    s.state, s.paused_since = "cancelled", None
    s.ended_at, s.end_reason = now, command.reason
    close_run(m, "cancelled", now)
    m.decided("cancelled", None, command, now, command.reason)
    message = texts.cancelled(m.plan, command.by, command.reason)
    m.notify("cancelled", message, ["executive_sponsor", "program_manager", "point_of_contact"], now)


def escalate(m: Recorder, command: Escalate, now: datetime) -> None:
    """Raise a level of the ladder now, by hand; a timed one does not fire it again."""
    phase = m.phase
    assert phase is not None
    level_no = escalation_level(m, command.level)
    open_gates = raise_level(m, phase, level_no, now)
    detail = {"level": level_no, "open_gates": open_gates, "health": m.state.health}
    m.decided("escalated", None, command, now, command.reason, detail)
    message = texts.escalated_by_hand(
        m.plan, phase, level_no, command.by, command.reason, open_gates, m.state.health, names=m.changed(NOTICE_NAMES)
    )
    m.notify("escalation", message, m.plan.ladder(phase)[level_no - 1].notify, now, detail)


def change_roster(m: Recorder, command: ChangeRoster, now: datetime) -> None:
    """Add people to the roster (replacing an entry with the same id) or take them off."""
    added = {p.id for p in command.add}
    removed = set(command.remove) - added
    m.state.people = [p for p in m.state.people if p.id not in added | removed] + list(command.add)
    detail = {"added": sorted(added), "removed": sorted(removed)}
    m.decided("roster_changed", None, command, now, None, detail)
