"""The roster gate: passes when the roster holds every role it requires."""

from __future__ import annotations

from models.gates import RosterGate
from models.messages import GateState
from workflows.rules.clock import View
from workflows.rules.kinds.base import Kind


def missing_roles(v: View, gate: RosterGate) -> list[str]:
    """The roles a roster gate requires that nobody on the roster holds."""
    held = {r for p in v.state.people for r in p.roles}
    return [r for r in gate.requires if r not in held]


class Roster(Kind[RosterGate]):
    """A change of the roster moves it; nobody signs it off."""

    kind = "roster"
    passes_on = "it passes when the roster holds every required role"
    needs = "roles on the roster"
    moves_alone = True

    def progress(self, v: View, spec: RosterGate, gate: GateState) -> tuple[str, list[str]]:
        """``2/3 roles``, and the roles nobody holds."""
        lacking = missing_roles(v, spec)
        return f"{len(spec.requires) - len(lacking)}/{len(spec.requires)} roles", lacking

    def met(self, v: View, spec: RosterGate, gate: GateState) -> bool:
        """Somebody holds each role it requires."""
        return not missing_roles(v, spec)


KIND = Roster()
