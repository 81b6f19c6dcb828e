"""One transition's trail walked for the portfolio's analytics: what it took (phase hours, gate
and person turnaround, reworks, pauses, go-live) and what stands open at the end (the phase run,
each gate's opening, a pause). The walk is a fold, one event at a time, so the projector
(`infra.analytics_projection`) keeps it in a row and carries it on with the rows that come later,
and it goes to JSON and back (`Walk.dumped`, `Walk.loaded`) without losing anything.

A gate's turnaround runs from its opening (its phase or wave starting, or a resume reopening it)
to the decision: the rules ask each awaited person in the same step as the gate opens
(`workflows.rules.awaiting.request_approvals`), and the trail's row of that request
(``notification_sent`` about ``approval_requested``) names neither the gate nor the moment asked,
only the moment the mail went.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from models.analytics import TransitionFigures
from models.audit_events.base import Event
from models.audit_events.decisions import (
    AmendmentApproved,
    AmendmentProposed,
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

HOUR = 3600.0
GATE_ADDED = re.compile(r"^phase (\S+): gate (\S+) added$")
"""How an amendment's changes name a gate it adds (`workflows.rules.amendments.changes`)."""


@dataclass
class Walk:
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
    adding: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    """The (phase, gate) pairs each amendment still proposed adds, by its gate (``amendment_N``)."""

    def opening(self, gate: str) -> datetime | None:
        """When ``gate`` last opened."""
        return self.opened.get(gate) or self.phase_opened

    def reopen(self, at: datetime, gates: list[str] | None = None) -> None:
        """Open ``gates`` afresh at ``at`` (none named: the whole phase's)."""
        if gates is None:  # the whole phase: every gate fresh
            self.phase_opened, self.opened, self.decided, self.settled = at, {}, set(), set()
            return
        for gate in gates:
            self.opened[gate] = at
            self.settled.discard(gate)
            self.decided = {d for d in self.decided if d[0] != gate}

    def close_run(self, at: datetime) -> str | None:
        """End the phase run at ``at``, counting its hours; the phase it was, if any."""
        if self.run is None:
            return None
        phase, start = self.run
        self.phase_hours[phase] += (at - start).total_seconds() / HOUR
        self.run = None
        return phase

    def end_pause(self, at: datetime) -> None:
        """End a pause at ``at``, counting its hours."""
        if self.pause_since is not None:
            self.figures.paused_hours += (at - self.pause_since).total_seconds() / HOUR
            self.pause_since = None

    def dumped(self) -> dict[str, Any]:
        """The walk as JSON holds it."""
        return {
            "figures": self.figures.model_dump(mode="json"),
            "phase_hours": dict(self.phase_hours),
            "passed": self.passed,
            "names": self.names,
            "gate_hours": self.gate_hours,
            "person_hours": self.person_hours,
            "run": [self.run[0], self.run[1].isoformat()] if self.run else None,
            "opened": {gate: at.isoformat() for gate, at in self.opened.items()},
            "phase_opened": _iso(self.phase_opened),
            "decided": sorted(self.decided),
            "settled": sorted(self.settled),
            "pause_since": _iso(self.pause_since),
            "ended": self.ended,
            "adding": self.adding,
        }

    @classmethod
    def loaded(cls, d: dict[str, Any]) -> Walk:
        """The walk `dumped` gave."""
        return cls(
            figures=_figures(d["figures"]),
            phase_hours=defaultdict(float, d["phase_hours"]),
            passed=d["passed"],
            names=d["names"],
            gate_hours=[(g, h) for g, h in d["gate_hours"]],
            person_hours=[(p, h) for p, h in d["person_hours"]],
            run=(d["run"][0], datetime.fromisoformat(d["run"][1])) if d["run"] else None,
            opened={gate: datetime.fromisoformat(at) for gate, at in d["opened"].items()},
            phase_opened=_at(d["phase_opened"]),
            decided={(g, a) for g, a in d["decided"]},
            settled=set(d["settled"]),
            pause_since=_at(d["pause_since"]),
            ended=d["ended"],
            adding={gate: [(phase, added) for phase, added in pairs] for gate, pairs in d.get("adding", {}).items()},
        )


def _figures(d: dict[str, Any]) -> TransitionFigures:
    """The figures as `Walk.dumped` wrote them, built without validating again (a page reads ten
    thousand of them)."""
    times = {k: _at(d[k]) for k in ("started_at", "planned_go_live", "go_live")}
    return TransitionFigures.model_construct(**{**d, **times})


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def _at(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def walk(transition_id: str, events: list[Event]) -> Walk:
    """Walk one transition's events, oldest first."""
    w = Walk(TransitionFigures(transition_id=transition_id, started_at=events[0].at))
    for e in events:
        step(w, e)
    return w


def step(w: Walk, e: Event) -> None:
    """Carry ``w`` on by one event, later than (or as late as) every event before it."""
    f = w.figures
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
    elif isinstance(e, AmendmentProposed) and e.gate:
        w.adding[e.gate] = [(m.group(1), m.group(2)) for c in e.changes if (m := GATE_ADDED.match(c))]
    elif isinstance(e, AmendmentApproved) and e.gate:
        for phase, gate in w.adding.pop(e.gate, []):  # a gate added to the phase under way opens now
            if w.run is not None and w.run[0] == phase:
                w.opened[gate] = e.at
    elif isinstance(e, (Cancelled, TransitionCompleted)):
        w.end_pause(e.at)
        if isinstance(e, TransitionCompleted) and w.run is None:
            f.go_live = f.go_live or e.at  # a workstream ends when its last phase passes
        w.close_run(e.at)
        w.ended = True


def _settle(w: Walk, gate: str, at: datetime) -> None:
    opening = w.opening(gate)
    if opening is not None and gate not in w.settled:
        w.settled.add(gate)
        w.gate_hours.append((gate, (at - opening).total_seconds() / HOUR))
