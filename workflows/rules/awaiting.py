"""Who a transition waits on: the people each open gate awaits, what each may do there, and the
request that tells them so when a gate opens.

The web app's inbox answers from these, published as search attributes, and its gate page shows
only the buttons `options` allows: the same checks a command meets, asked ahead of time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from models.commands import GateDecision, Reject, Waive
from models.constants import login_key
from models.gates import GateSpec
from models.messages import GateState
from models.names import named
from workflows.rules import texts
from workflows.rules.checks import check_gate_decision
from workflows.rules.clock import Deadline, View
from workflows.rules.delegation import delegates
from workflows.rules.gates import gate_status, opened
from workflows.rules.kinds import kind_of
from workflows.rules.outbox import Recorder
from workflows.rules.refusals import Refused
from workflows.rules.versions import APPROVAL_REQUESTS, NOTICE_FACTS, NOTICE_NAMES, REMINDERS

ACTIONS = ("approve", "tick", "reject", "waive")


def awaited(v: View, now: datetime | None = None) -> dict[str, list[str]]:
    """Each person the open gates of the phase under way wait on, with those gates' keys.

    Each gate's kind says whom it waits on (an approval gate: the approvers who have not signed; a
    checklist gate: everyone who may tick while an item is left). A paused transition still
    waits on them; an ended one on nobody. Whoever stands in for them at ``now`` is awaited too.
    """
    phase = v.phase
    if v.state.state not in ("running", "paused") or phase is None:
        return {}
    people: dict[str, list[str]] = {}
    for gate in v.state.gates:
        spec = phase.gate(gate.key)
        if gate.status != "open" or spec is None:
            continue
        waiting = gate_status(v, gate).waiting_for
        for person_id in kind_of(spec).awaited(v, spec, gate, waiting):
            for standing in (person_id, *delegates(v, person_id, now)):
                if gate.key not in people.setdefault(standing, []):
                    people[standing].append(gate.key)
    return people


def login(v: View, person_id: str) -> str:
    """How the web app finds a person in search attributes: the `login_key` of their address
    (their roster id if they have none)."""
    found = next((p for p in v.state.people if p.id == person_id), None)
    return login_key((found.address if found else None) or person_id)


def search_values(v: View, now: datetime | None = None) -> list[str]:
    """The ``BpoAwaiting`` keyword list: each awaited person's key, and ``key#gate`` per gate."""
    values: list[str] = []
    for person_id, keys in sorted(awaited(v, now).items()):
        who = login(v, person_id)
        values += [who, *(f"{who}#{key}" for key in keys)]
    return values


def people_values(v: View) -> list[str]:
    """The ``BpoPeople`` keyword list: each person's key, and ``key#role`` per role held."""
    values: list[str] = []
    for person in v.state.people:
        who = login(v, person.id)
        values += [who, *(f"{who}#{role}" for role in person.roles)]
    return sorted(set(values))


def next_due(v: View, now: datetime) -> datetime | None:
    """When the phase under way falls due on its unpaused clock, if it has a due date."""
    phase = v.phase
    if phase is None or not phase.due or v.state.state not in ("running", "paused"):
        return None
    return v.phase_due(now)


def options(v: View, person_id: str, now: datetime | None = None) -> dict[str, list[str]]:
    """For each gate of the phase under way, the decisions ``person_id`` may take on it at ``now``."""
    phase = v.phase
    if phase is None:
        return {}
    allowed: dict[str, list[str]] = {}
    for gate in v.state.gates:
        spec = phase.gate(gate.key)
        assert spec is not None
        probes: list[GateDecision] = [
            *kind_of(spec).probes(v, spec, gate.key, person_id),
            Reject(by=person_id, gate=gate.key, reason="-"),
            Waive(by=person_id, gate=gate.key, reason="-"),
        ]
        allowed[gate.key] = [p.update for p in probes if _allows(v, p, now)]
    return allowed


def _allows(v: View, probe: GateDecision, now: datetime | None) -> bool:
    try:
        check_gate_decision(v, probe, now)
    except Refused:
        return False
    return True


def facts(m: Recorder, spec: GateSpec, gate: GateState, now: datetime) -> dict[str, Any]:
    """What a request or a reminder tells of its gate besides its words (since ``NOTICE_FACTS``):
    its name, what it needs (``0/2 approvals``), who has signed, and when it is due (its own due
    once it has opened, else its phase's), as an ISO moment in UTC; nothing before the change."""
    if not m.changed(NOTICE_FACTS):
        return {}
    names = {p.id: p.name for p in m.state.people}
    due = next_due(m, now)
    if spec.due is not None and gate.opened_active is not None:
        # The gate's own clock, as `deadlines.gate_due_at` reads it (that module imports this one).
        due = m.when(m.deadline((gate.opened_active, gate.opened_business or 0.0), spec.due), now)
    told: dict[str, Any] = {
        "gate_name": named(gate.key, spec.name),
        "needs": kind_of(spec).progress(m, spec, gate)[0],
        "due": due.isoformat() if due else None,
    }
    if spec.kind == "approval":
        told["signed"] = [names.get(p, p) for p in gate.approvals]
    return told


def request_approvals(m: Recorder, now: datetime) -> None:
    """Ask each person an open gate waits on, once per opening of the gate, to decide it; the
    notice carries the path to the gate's page in the web app. None go out while paused."""
    phase = m.phase
    if phase is None or m.state.state != "running" or not m.changed(APPROVAL_REQUESTS):
        return
    people = {p.id: p for p in m.state.people}
    gates = {g.key: g for g in m.state.gates}
    for person_id, keys in awaited(m, now).items():
        for key in keys:
            gate, spec = gates[key], phase.gate(key)
            if person_id in gate.asked or spec is None:
                continue
            gate.asked = [*gate.asked, person_id]
            detail = {"gate": key, "path": f"/t/{m.state.id}/gates/{key}", **facts(m, spec, gate, now)}
            what = kind_of(spec).asks
            message = texts.approval_requested(
                m.plan, phase, spec, what, people[person_id].name, next_due(m, now), names=m.changed(NOTICE_NAMES)
            )
            m.tell("approval_requested", message, [people[person_id]], now, detail)


def cadence(v: View, key: str) -> Deadline | None:
    """The time between reminders for gate ``key``, on the clock it counts on: its own
    ``reminders``, else its phase's, else the plan's; None for none."""
    phase = v.phase
    spec = phase.gate(key) if phase else None
    chosen = (spec.reminders if spec else None) or (phase.reminders if phase else None) or v.plan.reminders
    return v.deadline((0.0, 0.0), chosen.every) if chosen else None


def reminders_due(v: View, gate: GateState, every: Deadline, now: datetime) -> int:
    """How many reminders of ``gate`` fell due since it opened."""
    start = gate.opened_business if every.clock == "business" else gate.opened_active
    clock = v.business_at(now) if every.clock == "business" else v.active_at(now)
    return int((clock - (start or 0.0)) // every.reading)


def remind(m: Recorder, now: datetime) -> None:
    """Remind the people each open gate still waits on, every ``reminders.every`` of unpaused time
    since it opened; one reminder however many fell due while paused."""
    phase = m.phase
    if phase is None or m.state.state != "running" or not m.changed(REMINDERS):
        return
    waiting = awaited(m, now)
    people = {p.id: p for p in m.state.people}
    for gate in m.state.gates:
        every = cadence(m, gate.key)
        if gate.status != "open" or every is None:
            continue
        opened(m, gate, now)
        due = reminders_due(m, gate, every, now)
        if due <= gate.reminded:
            continue
        gate.reminded = due
        for person_id in (p for p, keys in waiting.items() if gate.key in keys and p in people):
            message = texts.reminder(
                m.plan, phase, gate.key, people[person_id].name, due, next_due(m, now), names=m.changed(NOTICE_NAMES)
            )
            detail = {"gate": gate.key, "path": f"/t/{m.state.id}/gates/{gate.key}", "reminder": due}
            if spec := phase.gate(gate.key):
                detail |= facts(m, spec, gate, now)
            m.tell("reminder", message, [people[person_id]], now, detail)


def next_reminder(v: View, now: datetime) -> datetime | None:
    """When the next reminder of an open gate falls due, if any is set to come (none while paused)."""
    if v.state.state != "running" or v.phase is None:
        return None
    moments = []
    for gate in v.state.gates:
        every = cadence(v, gate.key)
        if gate.status == "open" and every and gate.opened_active is not None:
            start = gate.opened_business if every.clock == "business" else gate.opened_active
            moments.append(v.when(Deadline(every.clock, (start or 0.0) + (gate.reminded + 1) * every.reading), now))
    return min((t for t in moments if t is not None), default=None)
