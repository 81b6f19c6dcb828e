"""What every gate kind answers: the one small protocol the rules, the web app and the simulator
ask a gate through, so that a new kind is a new module and not a branch in ten.

A kind's methods take the plan's gate (``spec``, a model of `models.plan`) and the gate's state
in the transition (`GateState`). None of them raises the rules' refusals by itself but `check`;
none of them passes a gate: the caller asks `met` after `apply` and passes it (a RAID item may
still hold it).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from models.commands import Command, GateDecision
from models.messages import GateState
from models.plan import WAIVE_ROLES, Plan
from workflows.rules.clock import View
from workflows.rules.outbox import Recorder

S = TypeVar("S")


def with_article(word: str) -> str:
    """``word`` after its indefinite article: ``an approval``, ``a kpi``, ``a scorecard``."""
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


class Kind(Generic[S]):
    """One kind of gate. Subclasses set the words and override what their kind does differently."""

    kind: ClassVar[str]
    """The plan's ``kind:`` for it (``approval``)."""
    takes: ClassVar[tuple[str, ...]] = ()
    """The decisions it takes beside ``reject`` and ``waive``, by update name (``approve``)."""
    passes_on: ClassVar[str]
    """How it passes, as a refusal of a decision it does not take says it."""
    asks: ClassVar[str] = "decide"
    """What a request asks the awaited person to do with it (``sign off``)."""
    needs: ClassVar[str]
    """What its page says it needs (``every item ticked``)."""
    waits_on_people: ClassVar[bool] = False
    """Whether `progress`'s waiting list names people (shown by name), not items or metrics."""
    moves_alone: ClassVar[bool] = False
    """Whether it may pass with no decision on it (a change of the roster, a workstream's report):
    the rules look at it each time they run."""

    def elsewhere(self, key: str, other: Kind[Any], update: str) -> str:
        """The refusal of a decision this kind takes (``update``) sent to gate ``key`` of another kind."""
        return f"gate '{key}' is {with_article(other.kind)} gate, not {with_article(self.kind)}; nothing to {update}"

    def parts(self, plan: Plan, spec: S) -> list[str]:
        """The named parts a decision on it picks one of (a checklist's items), for its page."""
        return []

    def open(self, m: Recorder, spec: S, gate: GateState) -> None:
        """Fill in what the gate fixes when it opens (nothing, for most kinds)."""

    def deciders(self, spec: S) -> list[str]:
        """The roles that sign it off or reject it: by default those that may waive any gate."""
        return list(WAIVE_ROLES)

    def progress(self, v: View, spec: S, gate: GateState) -> tuple[str, list[str]]:
        """How far along it is as status reads it (``3/4 items``), and what it still waits for."""
        raise NotImplementedError

    def awaited(self, v: View, spec: S, gate: GateState, waiting: list[str]) -> list[str]:
        """The people an open gate waits on (asked and reminded), given `progress`'s waiting list."""
        return []

    def probes(self, v: View, spec: S, key: str, by: str) -> list[GateDecision]:
        """Its own decisions as ``by`` would send them, for the rules to say ahead which they allow."""
        return []

    def check(self, v: View, spec: S, gate: GateState, command: GateDecision, signs: Callable[[], None]) -> None:
        """Refuse a decision it takes that is not right (an unknown item, evidence missing);
        ``signs()`` refuses the sender unless they may sign it off, and is called where the kind
        wants that refusal to come first."""
        signs()

    def apply(self, m: Recorder, spec: S, gate: GateState, command: Any, now: datetime, **extra: Any) -> bool:
        """Record a decision it takes (checked already) in the gate's state and the audit trail;
        False when the decision does not count toward this gate (readings of other metrics)."""
        raise NotImplementedError

    def met(self, v: View, spec: S, gate: GateState) -> bool:
        """Whether an open gate's own condition holds."""
        raise NotImplementedError

    def simulate(self, plan: Plan, spec: S, key: str, wave: int, reporter: str) -> list[Command]:
        """The commands that meet it, as eligible people would send them (`bpo simulate`)."""
        return []
