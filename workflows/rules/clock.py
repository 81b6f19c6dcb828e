"""A read-only view of one transition: its plan, its state, the phase under way and its clocks.

Every clock counts unpaused time. ``active_at`` is the transition's unpaused seconds; a phase's
``due`` and ``min_duration`` count from ``phase_active_start`` on that clock, and steady state's
periods and reviews from the ledger's ``active_start``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta

from models.messages import STEADY_STATE, GateState, TransitionState
from models.plan import Person, Phase, Plan
from workflows.rules.versions import Patched, every_change

YEAR = timedelta(days=365)


def is_done(gate: GateState) -> bool:
    """Whether a gate no longer holds its phase back."""
    return gate.status in ("passed", "waived")


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
        phase, moments = self.phase, []
        if phase is None:
            moments += self._steady_moments(now)
        else:
            gates_done = all(is_done(g) for g in self.state.gates)
            if not gates_done and phase.due:
                for level_no, level in enumerate(self.plan.ladder(phase), start=1):
                    if level_no not in self.state.fired:
                        moments.append(self.wall(phase.due + level.after, now))
            if gates_done and phase.min_duration and self.last_wave():
                moments.append(self.wall(phase.min_duration, now))
            if self.plan.cadence.check_in:
                every = self.plan.cadence.check_in.total_seconds()
                moments.append(self.at_active((self.state.check_ins_sent + 1) * every, now))
        return min(moments) if moments else None

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
