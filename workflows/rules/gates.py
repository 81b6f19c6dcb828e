"""Gates, whatever their kind: opening, passing, what holds them, and how far along they are as a
person reads it. What each kind needs and when it passes is its module's (`workflows.rules.kinds`).
"""

from __future__ import annotations

from datetime import datetime

from models.gates import GateSpec
from models.messages import GateState
from models.status import GateStatus
from workflows.rules.clock import View
from workflows.rules.kinds import kind_of
from workflows.rules.outbox import Recorder


def open_gate(m: Recorder, spec: GateSpec) -> GateState:
    """A gate opening: untouched, and for ``rule: all`` its approvers fixed from the roster now."""
    gate = GateState(key=spec.key, kind=spec.kind)
    kind_of(spec).open(m, spec, gate)
    return gate


def opened(m: Recorder, gate: GateState, now: datetime) -> tuple[float, float]:
    """The clocks' readings when ``gate`` opened, noted the first time the rules look at it (in the
    step that opens it)."""
    if gate.opened_active is None:
        gate.opened_active = m.active_at(now)
    if gate.opened_business is None:
        gate.opened_business = m.business_at(now)
    return gate.opened_active, gate.opened_business


def gate_status(v: View, gate: GateState) -> GateStatus:
    """A gate's progress as a person reads it (``1/2 periods``, ``3/4 items``)."""
    phase = v.phase
    assert phase is not None
    spec = phase.gate(gate.key)
    assert spec is not None
    progress, waiting = kind_of(spec).progress(v, spec, gate)
    held = blockers(v, gate.key) if gate.status == "open" else []
    if held:
        progress += f", blocked by {', '.join(held)}"
    if gate.status != "open":
        waiting = []
    return GateStatus(
        key=gate.key, kind=gate.kind, status=gate.status, progress=progress, waiting_for=waiting, blocked_by=held
    )


def blockers(v: View, key: str) -> list[str]:
    """The open RAID items that hold gate ``key``."""
    return [i.id for i in v.state.raid if i.blocks == key and i.closed_at is None]


def gate_passed(m: Recorder, gate: GateState, now: datetime) -> None:
    """Mark a gate passed and say so in the audit trail, unless a RAID item holds it: then it
    stays open, and passes when the item closes."""
    if m.state.raid and blockers(m, gate.key):
        return
    gate.status = "passed"
    m.audit("gate_passed", now, gate=gate.key, detail={"kind": gate.kind})


def met(v: View, spec: GateSpec, gate: GateState) -> bool:
    """Whether an open gate's own condition holds (sign-offs, ticks, readings, roles)."""
    return kind_of(spec).met(v, spec, gate)


def recheck(m: Recorder, now: datetime) -> None:
    """Pass every open gate of the phase under way whose condition holds and nothing holds back."""
    phase = m.phase
    assert phase is not None
    for gate in m.state.gates:
        spec = phase.gate(gate.key)
        if spec is not None and gate.status == "open" and met(m, spec, gate):
            gate_passed(m, gate, now)


def check_moving_gates(m: Recorder, now: datetime) -> None:
    """Pass every open gate that moves without a decision on it (a roster gate, a workstreams
    gate) whose condition now holds."""
    phase = m.phase
    assert phase is not None
    for gate in m.state.gates:
        spec = phase.gate(gate.key)
        if spec is not None and kind_of(spec).moves_alone and gate.status == "open" and met(m, spec, gate):
            gate_passed(m, gate, now)
