"""Small look-ups the rules share: who a person is and what they may do, which gate a key
names, the ladder level an escalation raises, what stands recorded for a period.

They read a `View` and refuse with `Refused` when what is asked for does not exist or is not
allowed; the checks and the rooms of each feature (amendments, feeds, keys, RAID, decisions)
take them from here rather than from one another.
"""

from __future__ import annotations

from collections.abc import Iterable

from models.gates import GateSpec
from models.messages import GateState
from models.plan import Person
from workflows.rules import readings
from workflows.rules.clock import View
from workflows.rules.refusals import RefusalKind, Refused


def person(v: View, person_id: str) -> Person:
    """The roster's entry for ``person_id``."""
    found = next((p for p in v.state.people if p.id == person_id), None)
    if found is None:
        known = ", ".join(p.id for p in v.state.people)
        raise Refused(f"'{person_id}' is not on the roster; people who may decide: {known}", RefusalKind.NOT_ALLOWED)
    return found


def require_role(v: View, person_id: str, roles: Iterable[str], what: str) -> None:
    """Refuse unless ``person_id`` is on the roster and holds one of ``roles``."""
    found = person(v, person_id)
    roles = list(roles)
    if not set(found.roles) & set(roles):
        raise Refused(
            f"{person_id} may not {what}: it needs one of the roles {', '.join(roles)}, "
            f"and {person_id} holds {', '.join(found.roles)}",
            RefusalKind.NOT_ALLOWED,
        )


def gate_of(v: View, key: str) -> tuple[GateSpec, GateState]:
    """The plan's gate ``key`` and its state, if it is a gate of the phase under way."""
    phase = v.phase
    gate_state = next((g for g in v.state.gates if g.key == key), None)
    if phase is not None and gate_state is not None:
        spec = phase.gate(key)
        assert spec is not None
        return spec, gate_state
    for i, other in enumerate(v.plan.phases):
        if other.gate(key) is not None:
            when = "has not begun" if i > v.state.phase_index else "has already passed"
            raise Refused(
                f"gate '{key}' belongs to phase '{other.key}', which {when}; the transition is in '{v.phase_key}'",
                RefusalKind.GATE_NOT_OPEN,
            )
    current = ", ".join(g.key for g in v.state.gates) or "none (steady state)"
    raise Refused(
        f"unknown gate '{key}'; gates of the current phase '{v.phase_key}': {current}", RefusalKind.UNKNOWN_GATE
    )


def escalation_level(v: View, asked: int | None) -> int:
    """The ladder level an escalation by hand raises: ``asked``, else the next one not yet fired."""
    phase = v.phase
    if phase is None:
        raise Refused(
            "steady state has no escalation ladder; escalate during the transition's phases", RefusalKind.NO_LADDER
        )
    ladder = v.plan.ladder(phase)
    if asked is not None:
        if asked > len(ladder):
            raise Refused(
                f"the ladder of '{phase.key}' has {len(ladder)} levels; there is no level {asked}",
                RefusalKind.NO_LADDER,
            )
        return asked
    level = next((n for n in range(1, len(ladder) + 1) if n not in v.state.fired), None)
    if level is None:
        raise Refused(
            f"every level of the ladder of '{phase.key}' has fired; name one with --level", RefusalKind.NO_LADDER
        )
    return level


def recorded_readings(v: View, period: str) -> dict[str, float]:
    """What stands recorded for ``period``, metric by metric (`workflows.rules.readings`)."""
    return readings.recorded(v, period)
