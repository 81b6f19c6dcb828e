"""Gates: when each kind passes, and how far along it is as a person reads it.

An approval gate passes on its approvers' rule (any one, all, or a quorum); a checklist gate
when every item is ticked; a KPI gate when every metric met its SLA for ``periods`` periods in
a row; a roster gate when the roster holds every required role.
"""

from __future__ import annotations

from datetime import datetime

from models.messages import GateState
from models.plan import ApprovalGate, ChecklistGate, KpiGate, RosterGate
from models.status import GateStatus
from workflows.rules.clock import View
from workflows.rules.outbox import Recorder
from workflows.rules.versions import FIXED_APPROVERS

GateSpec = ApprovalGate | ChecklistGate | KpiGate | RosterGate


def open_gate(m: Recorder, spec: GateSpec) -> GateState:
    """A gate opening: untouched, and for ``rule: all`` its approvers fixed from the roster now."""
    gate = GateState(key=spec.key, kind=spec.kind)
    if isinstance(spec, ApprovalGate) and spec.approvers.rule == "all" and m.changed(FIXED_APPROVERS):
        gate.eligible = m.eligible(spec.approvers.roles)
    return gate


def opened(m: Recorder, gate: GateState, now: datetime) -> tuple[float, float]:
    """The clocks' readings when ``gate`` opened, noted the first time the rules look at it (in the
    step that opens it)."""
    if gate.opened_active is None:
        gate.opened_active = m.active_at(now)
    if gate.opened_business is None:
        gate.opened_business = m.business_at(now)
    return gate.opened_active, gate.opened_business


def approvers(v: View, spec: ApprovalGate, gate: GateState) -> list[str]:
    """Who may approve: fixed when a ``rule: all`` gate opened, else the roster as it is."""
    return gate.eligible if gate.eligible is not None else v.eligible(spec.approvers.roles)


def sides_missing(v: View, spec: ApprovalGate, gate: GateState) -> list[str]:
    """The orgs a two-sided gate still needs an approval from."""
    orgs = {p.id: p.org for p in v.state.people}
    signed = {orgs.get(p) for p in approvers(v, spec, gate) if p in gate.approvals}
    return [org for org in spec.orgs if org not in signed]


def approvals_pass(v: View, spec: ApprovalGate, gate: GateState) -> bool:
    """Whether the approvals given so far satisfy the gate's rule and, with ``orgs``, both sides."""
    rule, needed = spec.approvers.rule, spec.approvers.quorum
    eligible = approvers(v, spec, gate)
    approved = [p for p in eligible if p in gate.approvals]
    if sides_missing(v, spec, gate):
        return False
    if needed:
        return len(approved) >= needed
    if rule == "all":
        return len(approved) == len(eligible)
    return bool(approved)


def kpi_streak(v: View, spec: KpiGate, gate: GateState) -> tuple[int, list[str]]:
    """Consecutive periods, up to the latest complete one, in which every metric met its SLA.

    Returns the streak and the metrics the latest period still lacks. A period with a miss,
    or one left incomplete while a later period arrived, starts the count again.
    """
    streak, missing = 0, []
    for n, period in enumerate(gate.periods):
        read = gate.readings.get(period, {})
        missed = any(not v.plan.kpi(m).meets_sla(val) for m, val in read.items())  # type: ignore[union-attr]
        missing = [m for m in spec.metrics if m not in read]
        if missed:
            streak = 0
        elif not missing:
            streak += 1
            if streak >= spec.periods:
                return streak, []
        elif n < len(gate.periods) - 1:
            streak = 0
    return streak, missing


def missing_roles(v: View, gate: RosterGate) -> list[str]:
    """The roles a roster gate requires that nobody on the roster holds."""
    held = {r for p in v.state.people for r in p.roles}
    return [r for r in gate.requires if r not in held]


def gate_status(v: View, gate: GateState) -> GateStatus:
    """A gate's progress as a person reads it (``1/2 periods``, ``3/4 items``)."""
    phase = v.phase
    assert phase is not None
    spec = phase.gate(gate.key)
    waiting: list[str] = []
    if isinstance(spec, ApprovalGate):
        eligible = approvers(v, spec, gate)
        got = [p for p in eligible if p in gate.approvals]
        need = spec.approvers.quorum or (len(eligible) if spec.approvers.rule == "all" else 1)
        progress = f"{min(len(got), need)}/{need} approvals"
        waiting = [p for p in eligible if p not in gate.approvals]
        if missing_sides := sides_missing(v, spec, gate):
            orgs = {p.id: p.org for p in v.state.people}
            waiting = [p for p in waiting if orgs.get(p) in missing_sides] if got else waiting
            progress += f", awaiting {' and '.join(missing_sides)}"
    elif isinstance(spec, ChecklistGate):
        items = v.plan.checklist_items(spec)
        progress = f"{sum(i in gate.ticks for i in items)}/{len(items)} items"
        waiting = [i for i in items if i not in gate.ticks]
    elif isinstance(spec, KpiGate):
        streak, missing = kpi_streak(v, spec, gate)
        progress = f"{min(streak, spec.periods)}/{spec.periods} periods"
        waiting = missing if gate.periods else list(spec.metrics)
    else:
        assert isinstance(spec, RosterGate)
        lacking = missing_roles(v, spec)
        progress = f"{len(spec.requires) - len(lacking)}/{len(spec.requires)} roles"
        waiting = lacking
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
    if isinstance(spec, ApprovalGate):
        return approvals_pass(v, spec, gate)
    if isinstance(spec, ChecklistGate):
        return all(item in gate.ticks for item in v.plan.checklist_items(spec))
    if isinstance(spec, KpiGate):
        return kpi_streak(v, spec, gate)[0] >= spec.periods
    return not missing_roles(v, spec)


def recheck(m: Recorder, now: datetime) -> None:
    """Pass every open gate of the phase under way whose condition holds and nothing holds back."""
    phase = m.phase
    assert phase is not None
    for gate in m.state.gates:
        spec = phase.gate(gate.key)
        if spec is not None and gate.status == "open" and met(m, spec, gate):
            gate_passed(m, gate, now)


def check_roster_gates(m: Recorder, now: datetime) -> None:
    """Pass every open roster gate whose roles the roster now holds."""
    phase = m.phase
    assert phase is not None
    for gate in m.state.gates:
        spec = phase.gate(gate.key)
        if isinstance(spec, RosterGate) and gate.status == "open" and not missing_roles(m, spec):
            gate_passed(m, gate, now)
