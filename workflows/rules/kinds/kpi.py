"""The KPI gate: passes when every metric it names met its SLA for ``periods`` periods in a row."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from models.commands import Command, RecordReadings
from models.gates import KpiGate
from models.messages import GateState
from models.plan import Plan
from workflows.rules.clock import View
from workflows.rules.kinds.base import Kind
from workflows.rules.outbox import Recorder


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


def _good(plan: Plan, metric: str) -> float:
    kpi = plan.kpi(metric)
    assert kpi is not None
    if kpi.target is not None and kpi.meets_sla(kpi.target):
        return kpi.target
    return kpi.sla


class KpiKind(Kind[KpiGate]):
    """Readings of its metrics count toward it; nobody signs it off."""

    kind = "kpi"
    takes = ("readings",)
    passes_on = "it passes on KPI readings"
    needs = "KPI readings"

    def progress(self, v: View, spec: KpiGate, gate: GateState) -> tuple[str, list[str]]:
        """``1/2 periods``, and the metrics the latest period lacks (all of them before any came)."""
        streak, missing = kpi_streak(v, spec, gate)
        return f"{min(streak, spec.periods)}/{spec.periods} periods", missing if gate.periods else list(spec.metrics)

    def apply(self, m: Recorder, spec: KpiGate, gate: GateState, command: Any, now: datetime, **extra: Any) -> bool:
        """Count a period's readings of its metrics. With ``stands`` (the change that keeps readings
        standing), a correction counts where the reading it corrects counted, never anew."""
        assert isinstance(command, RecordReadings)
        values = {metric: v for metric, v in command.values.items() if metric in spec.metrics}
        if not values or (extra.get("stands") and command.correct and command.period not in gate.periods):
            return False
        if command.period not in gate.periods:
            gate.periods.append(command.period)
        gate.readings.setdefault(command.period, {}).update(values)
        return True

    def met(self, v: View, spec: KpiGate, gate: GateState) -> bool:
        """Its streak reached ``periods``."""
        return kpi_streak(v, spec, gate)[0] >= spec.periods

    def simulate(self, plan: Plan, spec: KpiGate, key: str, wave: int, reporter: str) -> list[Command]:
        """Readings that meet the SLA (the target where it does), for as many periods as it counts."""
        values = {m: _good(plan, m) for m in spec.metrics}
        return [
            RecordReadings(period=f"sim-{key}-{wave + 1}-{n + 1}", values=values, by=reporter)
            for n in range(spec.periods)
        ]


KIND = KpiKind()
