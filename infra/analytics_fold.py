"""What the portfolio's analytics keep of one transition's trail: the walk (`infra.analytics_walk`)
and what value realized and the trends gather (`infra.analytics_value.Gathered`), carried on one
event at a time, so a fold of the first rows carried on with the rest is the fold of them all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from infra.analytics_value import VALUE_KINDS, Gathered
from infra.analytics_walk import Walk, step
from models.analytics import TransitionFigures
from models.audit_events.base import Event

KINDS = (
    "transition_started", "phase_started", "phase_passed", "wave_started", "gate_passed", "approved", "ticked",
    "scored", "rejected", "waived", "paused", "resumed", "halted", "cancelled", "escalation", "escalated",
    "transition_completed", "amendment_proposed", "amendment_approved", *VALUE_KINDS,
)  # fmt: skip
"""The kinds of row the analytics read; the rest of the trail (notices, feeds) is not fetched."""
SHAPE = 1
"""The form `Fold.dumped` writes; a change of it (or of `KINDS`) takes a new number, and the
projector folds every row of another number again."""


@dataclass
class Fold:
    """One transition's trail as the analytics keep it, and the latest moment it has taken in."""

    walk: Walk
    gathered: Gathered
    first_at: datetime
    last_at: datetime

    @classmethod
    def begun(cls, transition_id: str, first: Event) -> Fold:
        """A fold about to take in ``first``, the oldest event of its trail."""
        walk = Walk(TransitionFigures(transition_id=transition_id, started_at=first.at))
        return cls(walk, Gathered(), first.at, first.at)

    def add(self, e: Event) -> None:
        """Take in one more event, as late as every one before it (`in_order` tells)."""
        step(self.walk, e)
        self.gathered.add(e)
        self.last_at = e.at

    def in_order(self, e: Event) -> bool:
        """Whether ``e`` comes after what the fold holds (a row dated earlier than one already taken
        in belongs before it, and the trail must be folded again from its first row)."""
        return e.at >= self.last_at

    def dumped(self) -> dict[str, Any]:
        """The fold as JSON holds it."""
        return {
            "walk": self.walk.dumped(),
            "gathered": self.gathered.dumped(),
            "first_at": self.first_at.isoformat(),
            "last_at": self.last_at.isoformat(),
        }

    @classmethod
    def loaded(cls, d: dict[str, Any]) -> Fold:
        """The fold `dumped` gave."""
        return cls(
            Walk.loaded(d["walk"]),
            Gathered.loaded(d["gathered"]),
            datetime.fromisoformat(d["first_at"]),
            datetime.fromisoformat(d["last_at"]),
        )


def fold_of(transition_id: str, events: list[Event]) -> Fold:
    """The fold of a whole trail's events, oldest first (at least one)."""
    found = Fold.begun(transition_id, events[0])
    for e in events:
        found.add(e)
    return found
