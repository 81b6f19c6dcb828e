"""The portfolio's analytics from the audit database: which transitions a filter chooses and
their rows (SQL through SQLAlchemy Core, the same on SQLite and PostgreSQL), then the figures
(`models.analytics`) worked out in plain Python from the typed events (`models.audit_events`).

What the trail does not hold comes from each transition's plan, as `PlanFacts` (see
`models.analytics`). A gate's turnaround runs from its opening (its phase or wave starting, or a
resume reopening it) to the decision: the rules ask each awaited person in the same step as the
gate opens (`workflows.rules.awaiting.request_approvals`), and the trail's row of that request
(``notification_sent`` about ``approval_requested``) names neither the gate nor the moment asked,
only the moment the mail went.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from infra.analytics_trends import kpi_trends
from infra.analytics_value import VALUE_KINDS, transition_value
from models.analytics import (
    Analytics,
    AnalyticsFilter,
    PhaseFigures,
    PlanFacts,
    TransitionFigures,
    Turnaround,
    Waiting,
    spread,
)
from models.audit_events import event_of
from models.audit_events.base import Event
from models.audit_events.decisions import (
    Approved,
    Cancelled,
    Escalated,
    Paused,
    Rejected,
    Resumed,
    Scored,
    Ticked,
    Waived,
)
from models.audit_events.happenings import (
    Escalation,
    GatePassed,
    Halted,
    PhasePassed,
    PhaseStarted,
    TransitionCompleted,
    TransitionStarted,
    WaveStarted,
)
from models.messages import STEADY_STATE
from models.names import in_words
from models.tables import AuditRecord

KINDS = (
    "transition_started", "phase_started", "phase_passed", "wave_started", "gate_passed", "approved", "ticked",
    "scored", "rejected", "waived", "paused", "resumed", "halted", "cancelled", "escalation", "escalated",
    "transition_completed", *VALUE_KINDS,
)  # fmt: skip
"""The kinds of row the analytics read; the rest of the trail (notices, feeds) is not fetched."""

HOUR = 3600.0


def chosen_ids(query: AnalyticsFilter) -> Any:
    """The ids of the transitions the filter's program and dates choose, as a subquery (client and
    provider are the plan's, not the trail's: `compute` applies them)."""
    started = select(AuditRecord.transition_id).where(AuditRecord.kind == "transition_started")
    if query.program:
        tid = col(AuditRecord.transition_id)
        started = started.where((tid == query.program) | tid.startswith(f"{query.program}/", autoescape=True))
    if query.since:
        started = started.where(col(AuditRecord.at) >= datetime.combine(query.since, time(0), tzinfo=UTC))
    if query.until:
        end = datetime.combine(query.until, time(0), tzinfo=UTC) + timedelta(days=1)
        started = started.where(col(AuditRecord.at) < end)
    return started


def read_events(engine: Engine, query: AnalyticsFilter) -> dict[str, list[Event]]:
    """Each chosen transition's rows of the kinds the analytics read, as typed events in the order
    they happened (by time, then place in the chain)."""
    statement = (
        select(AuditRecord)
        .where(col(AuditRecord.transition_id).in_(chosen_ids(query)), col(AuditRecord.kind).in_(KINDS))
        .order_by(col(AuditRecord.transition_id), col(AuditRecord.at), col(AuditRecord.position))
    )
    found: dict[str, list[Event]] = defaultdict(list)
    with Session(engine) as session:
        for row in session.exec(statement):
            if row.at.tzinfo is None:  # SQLite keeps no zone; every time stored is UTC
                row.at = row.at.replace(tzinfo=UTC)
            found[row.transition_id].append(event_of(row))
    return dict(found)


def analytics(engine: Engine, query: AnalyticsFilter, facts: Mapping[str, PlanFacts], now: datetime) -> Analytics:
    """The figures of the transitions ``query`` chooses, their plans' facts given by id."""
    return compute(read_events(engine, query), query, facts, now)


@dataclass
class _Walk:
    """One transition's trail walked through: what it took, and what stands open at the end."""

    figures: TransitionFigures
    phase_hours: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    passed: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    gate_hours: list[tuple[str, float]] = field(default_factory=list)
    person_hours: list[tuple[str, float]] = field(default_factory=list)
    run: tuple[str, datetime] | None = None
    opened: dict[str, datetime] = field(default_factory=dict)
    """When each gate last opened (absent: when its phase run or wave began, `phase_opened`)."""
    phase_opened: datetime | None = None
    decided: set[tuple[str, str]] = field(default_factory=set)
    settled: set[str] = field(default_factory=set)
    pause_since: datetime | None = None
    ended: bool = False

    def opening(self, gate: str) -> datetime | None:
        return self.opened.get(gate) or self.phase_opened

    def reopen(self, at: datetime, gates: list[str] | None = None) -> None:
        if gates is None:  # the whole phase: every gate fresh
            self.phase_opened, self.opened, self.decided, self.settled = at, {}, set(), set()
            return
        for gate in gates:
            self.opened[gate] = at
            self.settled.discard(gate)
            self.decided = {d for d in self.decided if d[0] != gate}

    def close_run(self, at: datetime) -> str | None:
        if self.run is None:
            return None
        phase, start = self.run
        self.phase_hours[phase] += (at - start).total_seconds() / HOUR
        self.run = None
        return phase

    def end_pause(self, at: datetime) -> None:
        if self.pause_since is not None:
            self.figures.paused_hours += (at - self.pause_since).total_seconds() / HOUR
            self.pause_since = None


def walk(transition_id: str, events: list[Event]) -> _Walk:
    """Walk one transition's events, oldest first."""
    w = _Walk(TransitionFigures(transition_id=transition_id, started_at=events[0].at))
    f = w.figures
    for e in events:
        if isinstance(e, TransitionStarted):
            f.started_at = e.at
        elif isinstance(e, PhaseStarted):
            if w.close_run(e.at) is not None:  # left before it passed: sent back for rework
                f.reworks += 1
            if e.phase == STEADY_STATE:
                f.go_live = f.go_live or e.at
            else:
                w.run = (e.phase, e.at)
                w.names[e.phase] = e.name or w.names.get(e.phase) or in_words(e.phase)
            w.reopen(e.at)
        elif isinstance(e, WaveStarted):
            w.reopen(e.at)
        elif isinstance(e, PhasePassed):
            if (phase := w.close_run(e.at)) is not None:
                w.passed.append(phase)
        elif isinstance(e, (Approved, Ticked, Scored, Rejected, Waived)) and e.gate:
            opening = w.opening(e.gate)
            if opening is not None and e.actor and (e.gate, e.actor) not in w.decided:
                w.decided.add((e.gate, e.actor))
                w.person_hours.append((e.actor, (e.at - opening).total_seconds() / HOUR))
            if isinstance(e, (Rejected, Waived)):
                _settle(w, e.gate, e.at)
            f.waivers += isinstance(e, Waived)
        elif isinstance(e, GatePassed) and e.gate:
            _settle(w, e.gate, e.at)
        elif isinstance(e, (Paused, Halted)):
            f.pauses += 1
            w.pause_since = w.pause_since or e.at
        elif isinstance(e, Resumed):
            w.end_pause(e.at)
            w.reopen(e.at, e.reopened)
        elif isinstance(e, (Escalation, Escalated)):
            f.escalations += 1
        elif isinstance(e, (Cancelled, TransitionCompleted)):
            w.end_pause(e.at)
            if isinstance(e, TransitionCompleted) and w.run is None:
                f.go_live = f.go_live or e.at  # a workstream ends when its last phase passes
            w.close_run(e.at)
            w.ended = True
    return w


def _settle(w: _Walk, gate: str, at: datetime) -> None:
    opening = w.opening(gate)
    if opening is not None and gate not in w.settled:
        w.settled.add(gate)
        w.gate_hours.append((gate, (at - opening).total_seconds() / HOUR))


def compute(
    trails: Mapping[str, list[Event]], query: AnalyticsFilter, facts: Mapping[str, PlanFacts], now: datetime
) -> Analytics:
    """The figures of ``trails`` (each transition's events, oldest first) that the plan's client and
    provider in ``facts`` let through ``query``."""
    out = Analytics(filter=query, at=now)
    unplanned = sorted(t for t in trails if t not in facts)
    if (query.client or query.provider) and unplanned:
        out.missing.append(
            f"left out for want of their plan, which says the client and provider: {', '.join(unplanned)}"
        )
    walks: list[tuple[_Walk, PlanFacts | None]] = []
    for tid, events in sorted(trails.items()):
        plan = facts.get(tid)
        if (query.client or query.provider) and (
            plan is None or query.client not in (None, plan.client) or query.provider not in (None, plan.provider)
        ):
            continue
        if events:
            walks.append((walk(tid, events), plan))
    for w, plan in walks:
        w.end_pause(now)
        f = w.figures
        f.paused_hours = round(f.paused_hours, 2)
        if plan is not None and plan.go_live is not None:
            f.planned_go_live = plan.go_live
            if f.go_live is not None:
                f.go_live_late_days = round((f.go_live - plan.go_live).total_seconds() / 86400, 2)
        out.transitions.append(f)
    out.value = [
        found
        for w, plan in walks
        if (
            found := transition_value(
                w.figures.transition_id, trails[w.figures.transition_id], plan, w.figures.go_live, now
            )
        )
    ]
    out.kpi_trends = kpi_trends({w.figures.transition_id: trails[w.figures.transition_id] for w, _ in walks}, facts)
    out.phases = _phases(walks)
    out.turnaround = _turnaround(walks)
    out.waiting = _waiting(walks, now)
    if not (query.client or query.provider) and any(plan is None for _, plan in walks):
        out.missing.append(
            "without their plan (planned durations, roles, orgs, gates waiting, planned go-live unknown): "
            + ", ".join(w.figures.transition_id for w, plan in walks if plan is None)
        )
    return out


def _phases(walks: list[tuple[_Walk, PlanFacts | None]]) -> list[PhaseFigures]:
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


def _turnaround(walks: list[tuple[_Walk, PlanFacts | None]]) -> list[Turnaround]:
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


def _waiting(walks: list[tuple[_Walk, PlanFacts | None]], now: datetime) -> list[Waiting]:
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
