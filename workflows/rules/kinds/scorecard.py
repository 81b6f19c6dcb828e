"""The scorecard gate: a go/no-go whose approvers score named criteria.

Each approver scores every criterion on the plan's scale (scoring again replaces their scores); a
criterion scores the mean of its approvers' scores. The gate passes once its quorum has scored
(any one, all, or ``quorum`` approvers, as an approval gate counts them), when the criteria's mean
weighted by their weights reaches ``threshold`` and every criterion reaches its floor.

The scores are kept in `GateState.scores`, approver -> criterion -> score, apart from a KPI gate's
readings so that no score is ever read as a reading. Means are compared with the threshold and
the floors to `PLACES` decimals: scores of 5 weighted 0.1 and 0.2 reach a threshold of 5 although
their float mean is 4.999...; the status shows a mean with as many decimals as it takes to agree
with that comparison, so ``4.99 of 5.0`` never reads as ``5.0 of 5.0``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from models.commands import Command, GateDecision, Score
from models.gates import ScorecardGate
from models.messages import GateState
from models.plan import Plan
from workflows.rules.clock import View
from workflows.rules.delegation import acting_for
from workflows.rules.kinds.base import Kind
from workflows.rules.outbox import Recorder
from workflows.rules.refusals import RefusalKind, Refused

PLACES = 9
"""Decimals to which a mean is compared with a threshold or a floor: float sums of weights such as
0.1 and 0.2 miss by far less."""


def reaches(value: float, bound: float) -> bool:
    """Whether ``value`` reaches ``bound`` to `PLACES` decimals."""
    return round(value, PLACES) >= round(bound, PLACES)


def shown(value: float, bound: float) -> str:
    """``value`` with one decimal, or as many more as it takes to read as reaching ``bound``
    exactly when it does (``4.99`` below 5, never ``5.0``)."""
    met = reaches(value, bound)
    for places in range(1, PLACES + 1):
        text = f"{value:.{places}f}"
        if reaches(float(text), bound) == met:
            return text
    return f"{value:.{PLACES}f}"


def number(value: float) -> str:
    """A threshold or floor as the plan gives it, with at least one decimal (``4.0``, ``4.25``)."""
    return f"{value:.1f}" if round(value, 1) == value else f"{value:g}"


def scorers(v: View, spec: ScorecardGate, gate: GateState) -> list[str]:
    """Who may score: fixed when a ``rule: all`` gate opened, else the roster as it is."""
    return gate.eligible if gate.eligible is not None else v.eligible(spec.approvers.roles)


def needed(spec: ScorecardGate, eligible: list[str]) -> int:
    """How many approvers must have scored: its quorum, all of them, or one."""
    return spec.approvers.quorum or (len(eligible) if spec.approvers.rule == "all" else 1)


def means(v: View, spec: ScorecardGate, gate: GateState) -> dict[str, float]:
    """Each criterion's mean over the approvers who scored it (none before anyone has)."""
    scored = [gate.scores[p] for p in scorers(v, spec, gate) if p in gate.scores]
    found = {c.key: [s[c.key] for s in scored if c.key in s] for c in spec.criteria}
    return {key: math.fsum(values) / len(values) for key, values in found.items() if values}


def weighted(spec: ScorecardGate, found: dict[str, float]) -> float | None:
    """The criteria's means weighted by their weights, None while a criterion has no score."""
    if any(c.key not in found for c in spec.criteria):
        return None
    return math.fsum(c.weight * found[c.key] for c in spec.criteria) / math.fsum(c.weight for c in spec.criteria)


def below_floor(spec: ScorecardGate, found: dict[str, float]) -> list[str]:
    """The criteria whose mean is below their floor, as ``key 2.5 < 3``."""
    return [
        f"{c.key} {shown(found[c.key], c.floor)} < {c.floor:g}"
        for c in spec.criteria
        if c.floor is not None and c.key in found and not reaches(found[c.key], c.floor)
    ]


class Scorecard(Kind[ScorecardGate]):
    """Approvers score; someone standing in scores for the person they stand in for."""

    kind = "scorecard"
    takes = ("score",)
    passes_on = "it passes on its approvers' scores of its criteria"
    asks = "score the criteria of"
    needs = "every criterion scored"
    waits_on_people = True

    def open(self, m: Recorder, spec: ScorecardGate, gate: GateState) -> None:
        """For ``rule: all``, fix its approvers from the roster as it opens."""
        if spec.approvers.rule == "all":
            gate.eligible = m.eligible(spec.approvers.roles)

    def deciders(self, spec: ScorecardGate) -> list[str]:
        """Its approvers' roles."""
        return list(spec.approvers.roles)

    def parts(self, plan: Plan, spec: ScorecardGate) -> list[str]:
        """Its criteria."""
        return [c.key for c in spec.criteria]

    def progress(self, v: View, spec: ScorecardGate, gate: GateState) -> tuple[str, list[str]]:
        """``2/3 scored, 3.8 of 4.0`` (and what is below its floor), and who has not scored."""
        eligible = scorers(v, spec, gate)
        done = [p for p in eligible if p in gate.scores]
        found = means(v, spec, gate)
        progress = f"{min(len(done), needed(spec, eligible))}/{needed(spec, eligible)} scored"
        if (mean := weighted(spec, found)) is not None:
            progress += f", {shown(mean, spec.threshold)} of {number(spec.threshold)}"
        if low := below_floor(spec, found):
            progress += f", below floor: {', '.join(low)}"
        return progress, [p for p in eligible if p not in gate.scores]

    def awaited(self, v: View, spec: ScorecardGate, gate: GateState, waiting: list[str]) -> list[str]:
        """The approvers who have not scored."""
        return waiting

    def probes(self, v: View, spec: ScorecardGate, key: str, by: str) -> list[GateDecision]:
        """A full scoring, with evidence for every criterion."""
        top = spec.scale[1]
        keys = [c.key for c in spec.criteria]
        return [Score(by=by, gate=key, scores=dict.fromkeys(keys, top), evidence=dict.fromkeys(keys, "-"))]

    def check(
        self, v: View, spec: ScorecardGate, gate: GateState, command: GateDecision, signs: Callable[[], None]
    ) -> None:
        """Every criterion scored, nothing else, each within the scale; then by an approver; then
        evidence for each criterion that requires it."""

        assert isinstance(command, Score)
        keys = [c.key for c in spec.criteria]
        for named in [*command.scores, *command.evidence]:
            if named not in keys:
                raise Refused(
                    f"unknown criterion '{named}' of gate '{gate.key}'; its criteria: {', '.join(keys)}",
                    RefusalKind.UNKNOWN_ITEM,
                )
        if missing := [k for k in keys if k not in command.scores]:
            raise Refused(
                f"gate '{gate.key}' is scored on every criterion at once; missing: {', '.join(missing)}",
                RefusalKind.BAD_INPUT,
            )
        low, high = spec.scale
        for key, value in command.scores.items():
            if not low <= value <= high:
                raise Refused(
                    f"{key} scored {value:g}; gate '{gate.key}' scores from {low:g} to {high:g}", RefusalKind.BAD_INPUT
                )
        signs()
        if missing := [c.key for c in spec.criteria if c.evidence == "required" and c.key not in command.evidence]:
            raise Refused(
                f"gate '{gate.key}' needs evidence with the scores of {', '.join(missing)}: a link or a reference",
                RefusalKind.EVIDENCE_REQUIRED,
            )

    def apply(
        self, m: Recorder, spec: ScorecardGate, gate: GateState, command: Any, now: datetime, **extra: Any
    ) -> bool:
        """Keep an approver's scores, replacing any they gave before."""
        assert isinstance(command, Score)
        eligible = scorers(m, spec, gate)
        # As an approval counts: a delegate scores for the first principal who has not scored yet
        # (their own scoring first, if they are an approver and have not scored); once all have,
        # a delegate who is no approver rescores for their first principal, an approver for themself.
        principal = acting_for(m, command.by, lambda p: p in eligible and p not in gate.scores, now)
        if principal is None and command.by not in eligible:
            principal = acting_for(m, command.by, eligible.__contains__, now)
        who = principal or command.by
        first = who not in gate.scores
        gate.scores[who] = dict(command.scores)
        detail: dict[str, object] = {"scores": command.scores, "evidence": command.evidence, "repeat": not first}
        if principal:
            detail["for"] = principal
        m.decided("scored", gate.key, command, now, command.note, detail)
        return True

    def met(self, v: View, spec: ScorecardGate, gate: GateState) -> bool:
        """Its quorum scored, the weighted mean reaches the threshold, and no criterion is below its floor."""
        eligible = scorers(v, spec, gate)
        if sum(p in gate.scores for p in eligible) < needed(spec, eligible):
            return False
        found = means(v, spec, gate)
        mean = weighted(spec, found)
        return mean is not None and reaches(mean, spec.threshold) and not below_floor(spec, found)

    def simulate(self, plan: Plan, spec: ScorecardGate, key: str, wave: int, reporter: str) -> list[Command]:
        """As many eligible people as it needs score every criterion at the top of the scale."""
        eligible = [p.id for p in plan.people if set(p.roles) & set(spec.approvers.roles)]
        evidence = {c.key: "simulated" for c in spec.criteria if c.evidence == "required"}
        scores = {c.key: spec.scale[1] for c in spec.criteria}
        return [Score(gate=key, by=p, scores=scores, evidence=evidence) for p in eligible[: needed(spec, eligible)]]


KIND = Scorecard()
