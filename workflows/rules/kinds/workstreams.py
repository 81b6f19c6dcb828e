"""The workstreams gate: a program's gate that passes by itself once the workstreams it names
have passed a phase (or all of theirs); nobody signs it off, a sponsor may waive it."""

from __future__ import annotations

from models.gates import WorkstreamsGate
from models.messages import GateState
from models.workstreams import named
from workflows.rules.clock import View
from workflows.rules.kinds.base import Kind


def gate_waits_for(v: View, gate: WorkstreamsGate) -> list[str]:
    """The workstreams a ``workstreams`` gate still waits for (one cancelled alone is left out)."""
    waiting = []
    for key in named(v.plan, gate):
        record = v.state.workstreams.get(key)
        if record is not None and record.state == "cancelled":
            continue
        done = record is not None and (
            record.state == "completed" if gate.passed == "all" else gate.passed in record.passed
        )
        if not done:
            waiting.append(key)
    return waiting


class Workstreams(Kind[WorkstreamsGate]):
    """Moved by its workstreams' reports; one cancelled on its own is left out."""

    kind = "workstreams"
    passes_on = "it passes once its workstreams have passed"
    needs = "workstreams to pass"
    moves_alone = True

    def progress(self, v: View, spec: WorkstreamsGate, gate: GateState) -> tuple[str, list[str]]:
        """``1/3 workstreams passed pilot``, and the workstreams still awaited."""
        waiting = gate_waits_for(v, spec)
        counted = [k for k in named(v.plan, spec) if (r := v.state.workstreams.get(k)) is None or r.state != "cancelled"]
        what = "done" if spec.passed == "all" else f"past {spec.passed}"
        return f"{len(counted) - len(waiting)}/{len(counted)} workstreams {what}", waiting

    def met(self, v: View, spec: WorkstreamsGate, gate: GateState) -> bool:
        """Every workstream it names (but those cancelled alone) has passed what it names; with
        every one cancelled it never passes on none (a sponsor waives it, or amends the plan)."""
        counted = [k for k in named(v.plan, spec) if (r := v.state.workstreams.get(k)) is None or r.state != "cancelled"]
        return bool(counted) and not gate_waits_for(v, spec)


KIND = Workstreams()
