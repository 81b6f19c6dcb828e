"""The checklist gate: passes when every item is ticked (``items: scope``, the plan's scope)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from models.commands import Command, GateDecision, Tick
from models.gates import ChecklistGate
from models.messages import GateState, Signoff
from models.plan import Plan
from workflows.rules.clock import View
from workflows.rules.kinds.base import Kind
from workflows.rules.outbox import Recorder
from workflows.rules.refusals import RefusalKind, Refused


class Checklist(Kind[ChecklistGate]):
    """Its approvers tick items, each item once; anyone of them may tick any item."""

    kind = "checklist"
    takes = ("tick",)
    passes_on = "it passes when each of its items is ticked"
    asks = "tick the items of"
    needs = "every item ticked"

    def parts(self, plan: Plan, spec: ChecklistGate) -> list[str]:
        """Its items."""
        return plan.checklist_items(spec)

    def deciders(self, spec: ChecklistGate) -> list[str]:
        """Its approvers' roles."""
        return list(spec.approvers.roles)

    def progress(self, v: View, spec: ChecklistGate, gate: GateState) -> tuple[str, list[str]]:
        """``3/4 items``, and the items left."""
        items = v.plan.checklist_items(spec)
        return f"{sum(i in gate.ticks for i in items)}/{len(items)} items", [i for i in items if i not in gate.ticks]

    def awaited(self, v: View, spec: ChecklistGate, gate: GateState, waiting: list[str]) -> list[str]:
        """Everyone who may tick, while an item is left."""
        return v.eligible(spec.approvers.roles) if waiting else []

    def probes(self, v: View, spec: ChecklistGate, key: str, by: str) -> list[GateDecision]:
        """A tick of its first item."""
        return [Tick(by=by, gate=key, item=next(iter(v.plan.checklist_items(spec)), "item"))]

    def check(
        self, v: View, spec: ChecklistGate, gate: GateState, command: GateDecision, signs: Callable[[], None]
    ) -> None:
        """An item of its own, ticked by one of its approvers."""

        if isinstance(command, Tick):
            items = v.plan.checklist_items(spec)
            if command.item not in items:
                raise Refused(
                    f"unknown item '{command.item}' of gate '{gate.key}'; its items: {', '.join(items)}",
                    RefusalKind.UNKNOWN_ITEM,
                )
        signs()

    def apply(
        self, m: Recorder, spec: ChecklistGate, gate: GateState, command: Any, now: datetime, **extra: Any
    ) -> bool:
        """Tick an item (a second tick of it is kept in the trail as a repeat)."""
        assert isinstance(command, Tick)
        first = command.item not in gate.ticks
        if first:
            gate.ticks[command.item] = Signoff(by=command.by, at=now, note=command.note)
        m.decided("ticked", gate.key, command, now, command.note, {"item": command.item, "repeat": not first})
        return True

    def met(self, v: View, spec: ChecklistGate, gate: GateState) -> bool:
        """Every item is ticked."""
        return all(item in gate.ticks for item in v.plan.checklist_items(spec))

    def simulate(self, plan: Plan, spec: ChecklistGate, key: str, wave: int, reporter: str) -> list[Command]:
        """One of its approvers ticks every item."""
        by = next(p.id for p in plan.people if set(p.roles) & set(spec.approvers.roles))
        return [Tick(gate=key, item=item, by=by) for item in plan.checklist_items(spec)]


KIND = Checklist()
