"""Objectives: each one with a KPI is tracked against its target, from the latest reading of that
KPI; when its due date passes unmet, the executive sponsors are told, once."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from models.plan import Objective
from models.status import ObjectiveStatus
from workflows.rules import texts
from workflows.rules.clock import View
from workflows.rules.outbox import Recorder
from workflows.rules.versions import OBJECTIVES_TRACKED


def target(v: View, objective: Objective) -> float | None:
    """The objective's target, else its KPI's target, else its KPI's SLA."""
    kpi = v.plan.kpi(objective.kpi) if objective.kpi else None
    if objective.target is not None:
        return objective.target
    return None if kpi is None else kpi.target if kpi.target is not None else kpi.sla


def status(v: View, objective: Objective, now: datetime) -> ObjectiveStatus:
    """Where one objective stands: met, on track (not yet due), missed (due and unmet), or no data."""
    kpi = v.plan.kpi(objective.kpi) if objective.kpi else None
    goal, value = target(v, objective), v.state.latest.get(objective.kpi or "")
    if kpi is None or goal is None or value is None:
        state = "no data"
    elif (value >= goal) if kpi.better == "higher" else (value <= goal):
        state = "met"
    elif objective.due is not None and now >= due_end(v, objective):
        state = "missed"
    else:
        state = "on track"
    return ObjectiveStatus(
        key=objective.key,
        statement=objective.statement,
        kpi=objective.kpi,
        target=goal,
        value=value,
        due=objective.due,
        state=state,  # type: ignore[arg-type]
        baseline=objective.baseline if objective.baseline is not None else kpi.baseline if kpi else None,
    )


def due_end(v: View, objective: Objective) -> datetime:
    """The end of an objective's due day, in the plan calendar's zone (else UTC)."""
    assert objective.due is not None
    zone = v.plan.calendar.tz if v.plan.calendar else UTC
    return datetime.combine(objective.due + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)


def watch(m: Recorder, now: datetime) -> None:
    """Tell the executive sponsors, once each, of an objective whose due date passed unmet."""
    if not m.plan.objectives or m.state.state != "running" or not m.changed(OBJECTIVES_TRACKED):
        return
    for objective in m.plan.objectives:
        if objective.due is None or objective.key in m.state.objectives_told or now < due_end(m, objective):
            continue
        m.state.objectives_told = [*m.state.objectives_told, objective.key]
        found = status(m, objective, now)
        if found.state == "met":
            continue
        detail = {"objective": objective.key, "target": found.target, "value": found.value, "state": found.state}
        m.audit("objective_missed", now, detail=detail)
        m.notify("objective_missed", texts.objective_missed(m.plan, found), ["executive_sponsor"], now, detail)


def next_moment(v: View) -> datetime | None:
    """When the next objective falls due that nobody was told of yet."""
    if not v.plan.objectives or v.state.state != "running" or not v.changed(OBJECTIVES_TRACKED):
        return None
    ends = [due_end(v, o) for o in v.plan.objectives if o.due and o.key not in v.state.objectives_told]
    return min(ends, default=None)
