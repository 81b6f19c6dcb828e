"""The portfolio's analytics from the audit database: each chosen transition's trail as the
projector keeps it folded (`infra.analytics_projection`, `infra.analytics_fold`), then the figures
(`models.analytics`) worked out in plain Python across the transitions.

What the trail does not hold comes from each transition's plan, as `PlanFacts` (see
`models.analytics`)."""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Engine

from infra.analytics_fold import Fold
from infra.analytics_projection import read_folds, refresh
from infra.analytics_trends import kpi_trends
from infra.analytics_value import value_of
from infra.analytics_walk import HOUR, Walk
from models.analytics import (
    Analytics,
    AnalyticsFilter,
    PhaseFigures,
    PlanFacts,
    Turnaround,
    Waiting,
    spread,
)
from models.names import in_words


def analytics(engine: Engine, query: AnalyticsFilter, facts: Mapping[str, PlanFacts], now: datetime) -> Analytics:
    """The figures of the transitions ``query`` chooses, their plans' facts given by id: the
    projection brought up to the trail's heads first, then read."""
    refresh(engine)
    with uncollected():
        return compute_folds(read_folds(engine, query), query, facts, now)


@contextmanager
def uncollected() -> Iterator[None]:
    """Python's cycle collector held while ten thousand folds are read and summed: they make
    objects by the hundred thousand, none in a cycle, and the collections they set off took half
    the time (the bench's 1,000 transitions: 0.30 s with, 0.17 s without)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def compute_folds(
    folds: Mapping[str, Fold], query: AnalyticsFilter, facts: Mapping[str, PlanFacts], now: datetime
) -> Analytics:
    """The figures of the transitions folded in ``folds`` that the plan's client and provider in
    ``facts`` let through ``query``."""
    out = Analytics(filter=query, at=now)
    unplanned = sorted(t for t in folds if t not in facts)
    if (query.client or query.provider) and unplanned:
        out.missing.append(
            f"left out for want of their plan, which says the client and provider: {', '.join(unplanned)}"
        )
    walks: list[tuple[Walk, PlanFacts | None]] = []
    for tid, fold in sorted(folds.items()):
        plan = facts.get(tid)
        if (query.client or query.provider) and (
            plan is None or query.client not in (None, plan.client) or query.provider not in (None, plan.provider)
        ):
            continue
        walks.append((fold.walk, plan))
    for w, plan in walks:
        w.end_pause(now)
        f = w.figures
        f.paused_hours = round(f.paused_hours, 2)
        if plan is not None and plan.go_live is not None:
            f.planned_go_live = plan.go_live
            if f.go_live is not None:
                f.go_live_late_days = round((f.go_live - plan.go_live).total_seconds() / 86400, 2)
        out.transitions.append(f)
    chosen = {w.figures.transition_id: folds[w.figures.transition_id] for w, _ in walks}
    out.value = [
        found
        for w, plan in walks
        if (found := value_of(w.figures.transition_id, chosen[w.figures.transition_id].gathered, plan,
                              w.figures.go_live, now))
    ]  # fmt: skip
    out.kpi_trends = kpi_trends({tid: (f.first_at, f.gathered.monthly) for tid, f in chosen.items()}, facts)
    out.phases = _phases(walks)
    out.turnaround = _turnaround(walks)
    out.waiting = _waiting(walks, now)
    if not (query.client or query.provider) and any(plan is None for _, plan in walks):
        out.missing.append(
            "without their plan (planned durations, roles, orgs, gates waiting, planned go-live unknown): "
            + ", ".join(w.figures.transition_id for w, plan in walks if plan is None)
        )
    return out


def _phases(walks: list[tuple[Walk, PlanFacts | None]]) -> list[PhaseFigures]:
    actual: dict[tuple[str, str], list[float]] = defaultdict(list)
    planned: dict[tuple[str, str], list[float]] = defaultdict(list)
    on_time: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for w, plan in walks:
        for phase in dict.fromkeys(w.passed):  # a phase passed again after a rework counts once, whole
            key, hours = (phase, w.names.get(phase, in_words(phase))), w.phase_hours[phase]
            actual[key].append(hours)
            wanted = plan.phases.get(phase) if plan else None
            if wanted is not None and wanted.planned_hours is not None:
                planned[key].append(wanted.planned_hours)
                on_time[key].append(hours <= wanted.planned_hours)
    return [
        PhaseFigures(
            key=key,
            name=name,
            actual=spread(hours),
            planned=spread(planned[(key, name)]),
            on_time_share=round(sum(on_time[(key, name)]) / len(on_time[(key, name)]), 3)
            if on_time[(key, name)]
            else None,
        )
        for (key, name), hours in actual.items()
    ]


def _turnaround(walks: list[tuple[Walk, PlanFacts | None]]) -> list[Turnaround]:
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for w, plan in walks:
        for gate, hours in w.gate_hours:
            groups[("gate", gate)].append(hours)
        for person, hours in w.person_hours:
            groups[("person", person)].append(hours)
            who = plan.people.get(person) if plan else None
            for role in who.roles if who else []:
                groups[("role", role)].append(hours)
            if who and who.org:
                groups[("org", who.org)].append(hours)
    order = {"gate": 0, "role": 1, "org": 2, "person": 3}
    return [Turnaround(by=by, key=key, spread=spread(hours)) for (by, key), hours in sorted(
        groups.items(), key=lambda item: (order[item[0][0]], item[0][1])
    )]  # fmt: skip


def _waiting(walks: list[tuple[Walk, PlanFacts | None]], now: datetime) -> list[Waiting]:
    found = []
    for w, plan in walks:
        if w.ended or w.run is None or plan is None or w.run[0] not in plan.phases:
            continue
        phase = w.run[0]
        for gate in plan.phases[phase].gates:
            since = w.opening(gate)
            if gate not in w.settled and since is not None:
                hours = round((now - since).total_seconds() / HOUR, 2)
                found.append(
                    Waiting(
                        transition_id=w.figures.transition_id, phase=phase, gate=gate, since=since, waited_hours=hours
                    )
                )
    return sorted(found, key=lambda x: (-x.waited_hours, x.transition_id, x.gate))
