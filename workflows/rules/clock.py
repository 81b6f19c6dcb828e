"""A read-only view of one transition: its plan, its state, the phase under way and its clocks.

Every clock counts unpaused time. ``active_at`` is the transition's unpaused seconds; a phase's
``due`` and ``min_duration`` count from ``phase_active_start`` on that clock, and steady state's
periods and reviews from the ledger's ``active_start``. With a calendar, ``business_at`` counts
the unpaused working seconds too, and a business duration (``5bd``) counts on that clock from
``phase_business_start`` (or a gate's ``opened_business``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from typing import Literal, NamedTuple

from models.durations import BusinessTime
from models.messages import STEADY_STATE, GateState, TransitionState
from models.plan import Person, Phase, Plan
from workflows.rules.versions import Patched, every_change

YEAR = timedelta(days=365)


def is_done(gate: GateState) -> bool:
    """Whether a gate no longer holds its phase back."""
    return gate.status in ("passed", "waived")


class Deadline(NamedTuple):
    """A moment on one of the transition's clocks: unpaused seconds, or unpaused working seconds."""

    clock: Literal["active", "business"]
    reading: float


class View:
    """The plan and the state of one transition, and what follows from them at a moment."""

    def __init__(self, plan: Plan, state: TransitionState, patched: Patched = every_change) -> None:
        self.plan = plan
        self.state = state
        self._patched = patched

    def changed(self, change: str) -> bool:
        """Whether the change of behaviour named ``change`` applies to this transition."""
        return self._patched(change)

    @property
    def phase(self) -> Phase | None:
        """The phase under way, or None in steady state."""
        i = self.state.phase_index
        return self.plan.phases[i] if i < len(self.plan.phases) else None

    @property
    def phase_key(self) -> str:
        """The key of the phase under way, ``steady_state`` after the last one."""
        return self.phase.key if self.phase else STEADY_STATE

    def active_at(self, now: datetime) -> float:
        """Seconds the transition has run unpaused, up to ``now``."""
        s = self.state
        if s.state != "running":
            return s.active_seconds
        return s.active_seconds + max(0.0, (now - s.clock_at).total_seconds())

    def business_at(self, now: datetime) -> float:
        """Working seconds of the plan's calendar the transition has run unpaused, up to ``now``
        (always zero without a calendar)."""
        s, calendar = self.state, self.plan.calendar
        if calendar is None or s.state != "running":
            return s.business_seconds
        return s.business_seconds + calendar.working_seconds(s.clock_at, now)

    def stop_clocks(self, now: datetime) -> None:
        """Bank the clocks' readings at ``now``; they count on from ``now`` while running."""
        s = self.state
        s.active_seconds, s.business_seconds, s.clock_at = self.active_at(now), self.business_at(now), now

    def deadline(self, start: tuple[float, float], span: timedelta | BusinessTime, share: float = 1.0) -> Deadline:
        """The moment ``span`` (times ``share``) after ``start``, given as readings of the active
        and the business clock, on the clock ``span`` counts on."""
        if isinstance(span, BusinessTime):
            assert self.plan.calendar is not None  # the plan checks make sure
            return Deadline("business", start[1] + share * span.seconds(self.plan.calendar.day_seconds))
        return Deadline("active", start[0] + share * span.total_seconds())

    def later(self, d: Deadline, span: timedelta | BusinessTime) -> Deadline:
        """``d`` moved on by ``span``, which counts on the same clock (the plan checks make sure)."""
        return self.deadline((d.reading, d.reading), span)

    def left(self, d: Deadline, now: datetime) -> float:
        """Seconds of ``d``'s clock until it reads ``d``; negative once past."""
        return d.reading - (self.business_at(now) if d.clock == "business" else self.active_at(now))

    def passed(self, d: Deadline, now: datetime) -> bool:
        """Whether ``d`` has come."""
        return self.left(d, now) <= 0

    def when(self, d: Deadline, now: datetime) -> datetime | None:
        """The wall-clock moment of ``d``, if nothing pauses the clocks from ``now`` on; None for
        a business deadline already passed before the latest pause."""
        if d.clock == "active":
            return self.at_active(d.reading, now)
        s, calendar = self.state, self.plan.calendar
        assert calendar is not None
        base = s.clock_at if s.state == "running" else now
        if d.reading < s.business_seconds:
            return None
        return calendar.add(base, d.reading - s.business_seconds)

    def phase_start(self) -> tuple[float, float]:
        """The clocks' readings when the phase under way began."""
        return self.state.phase_active_start, self.state.phase_business_start

    def phase_due(self, now: datetime) -> datetime | None:
        """When the phase under way falls due, if nothing pauses it from ``now`` on."""
        phase = self.phase
        if phase is None or not phase.due:
            return None
        if isinstance(phase.due, timedelta):
            return self.wall(phase.due, now)
        return self.when(self.deadline(self.phase_start(), phase.due), now)

    def phase_elapsed(self, now: datetime) -> timedelta:
        """Unpaused time since the current phase began: what ``due`` and ``min_duration`` count."""
        return timedelta(seconds=self.active_at(now) - self.state.phase_active_start)

    def wall(self, offset: timedelta, now: datetime) -> datetime:
        """When the phase clock will read ``offset``, if nothing pauses it from ``now`` on."""
        return now + (offset - self.phase_elapsed(now))

    def at_active(self, seconds: float, now: datetime) -> datetime:
        """When the transition's unpaused clock will read ``seconds``, if nothing pauses it."""
        return now + timedelta(seconds=seconds - self.active_at(now))

    def next_wakeup(self, now: datetime) -> datetime | None:
        """The next moment the passing of time alone can change something, if any."""
        if self.state.state != "running":
            return None
        phase, moments = self.phase, list[datetime | None]()
        if phase is None:
            moments += self._steady_moments(now)
        else:
            gates_done = all(is_done(g) for g in self.state.gates)
            if not gates_done and phase.due:
                due = self.deadline(self.phase_start(), phase.due)
                for level_no, level in enumerate(self.plan.ladder(phase), start=1):
                    if level_no not in self.state.fired:
                        moments.append(self.when(self.later(due, level.after), now))
            if gates_done and phase.min_duration and self.last_wave():
                moments.append(self.when(self.deadline(self.phase_start(), phase.min_duration), now))
            if self.plan.cadence.check_in:
                every = self.plan.cadence.check_in.total_seconds()
                moments.append(self.at_active((self.state.check_ins_sent + 1) * every, now))
        return min((m for m in moments if m is not None), default=None)

    def _steady_moments(self, now: datetime) -> list[datetime]:
        ledger, terms = self.state.ledger, self.plan.steady_state
        if ledger is None or terms is None:
            return []
        moments = [self.at_active(ledger.active_start + ledger.period * terms.review_period.total_seconds(), now)]
        if self.plan.cadence.business_review:
            every = self.plan.cadence.business_review.total_seconds()
            moments.append(self.at_active(ledger.active_start + (ledger.reviews_sent + 1) * every, now))
        if (end := self.until()) is not None:
            moments.append(end)
        return moments

    def until(self) -> datetime | None:
        """The end of steady state: the end of the ``until`` day, UTC."""
        terms = self.plan.steady_state
        if terms is None or terms.until is None:
            return None
        return datetime.combine(terms.until + timedelta(days=1), time(0), tzinfo=UTC)

    def last_wave(self) -> bool:
        """Whether the phase under way has no wave after the current one."""
        phase = self.phase
        return not phase or not phase.waves or self.state.wave_index >= len(phase.waves) - 1

    def contract_year(self, period: int) -> int:
        """The contract year a period falls in; periods run back to back on the unpaused clock."""
        terms = self.plan.steady_state
        assert terms is not None
        return int((period - 1) * terms.review_period.total_seconds() // YEAR.total_seconds()) + 1

    def holding(self, roles: Iterable[str]) -> list[Person]:
        """The people on the roster who hold any of ``roles``, in roster order."""
        roles = set(roles)
        return [p for p in self.state.people if roles & set(p.roles)]

    def eligible(self, roles: Iterable[str]) -> list[str]:
        """The ids of the people who hold any of ``roles``."""
        return [p.id for p in self.holding(roles)]
