"""The gates of a plan, one model per kind; each kind's rules live in its module of
`workflows.rules.kinds`, and `models.plan_checks` reports what `problems` finds with its line."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal, get_args

from pydantic import Field

from models.base import Strict
from models.durations import Span
from models.plan_words import EscalationLevel, Key, Org, Role, Share


class Reminders(Strict):
    """How often the people a gate still waits on are reminded while it stays open."""

    every: Span


class Approvers(Strict):
    """Who may sign off a gate (by role) and how many must: any one, all, or a quorum."""

    roles: list[Role] = Field(min_length=1)
    rule: Literal["any", "all"] = "any"
    quorum: int | None = Field(default=None, ge=1)


class _Gate(Strict):
    key: Key
    name: str | None = Field(default=None, max_length=200)
    reminders: Reminders | None = None
    due: Span | None = None
    """Counted from when the gate opens; without it, the phase's ``due`` holds the gate."""
    escalation: list[EscalationLevel] | None = None
    """The gate's own ladder past its ``due``; else the phase's (or the plan's)."""
    warn_at: Share | None = None
    """The share of ``due`` at which the awaited people and the points of contact are warned."""

    def problems(self) -> Iterator[tuple[tuple[str | int, ...], str]]:
        """What its kind finds wrong within the gate itself, as (path under the gate, message);
        `models.plan_checks` reports them with their lines."""
        return iter(())


class ApprovalGate(_Gate):
    """Passes on its approvers' sign-offs; with ``orgs``, only once each listed side has signed."""

    kind: Literal["approval"]
    approvers: Approvers
    evidence: Literal["required", "optional"] = "optional"
    orgs: list[Org] = Field(default=[], max_length=3)


class ChecklistGate(_Gate):
    """Passes when every item is ticked."""

    kind: Literal["checklist"]
    items: Literal["scope"] | list[Key] = Field(min_length=1)
    approvers: Approvers


class KpiGate(_Gate):
    """Passes when its metrics meet their SLAs for a number of periods in a row."""

    kind: Literal["kpi"]
    metrics: list[Key] = Field(min_length=1)
    periods: int = Field(default=1, ge=1, le=52)


class RosterGate(_Gate):
    """Passes when the roster holds every required role."""

    kind: Literal["roster"]
    requires: list[Role] = Field(min_length=1)


class Criterion(Strict):
    """One criterion of a scorecard gate: its weight in the mean, the least its mean may score."""

    key: Key
    name: str | None = Field(default=None, max_length=200)
    weight: float = Field(gt=0, le=1000)
    floor: float | None = None
    evidence: Literal["required", "optional"] = "optional"


class ScorecardGate(_Gate):
    """A go/no-go: each approver scores every criterion on ``scale``; passes once its quorum has
    scored, when the weighted mean of the criteria's means reaches ``threshold`` and each reaches
    its floor (`workflows.rules.kinds.scorecard`)."""

    kind: Literal["scorecard"]
    approvers: Approvers
    criteria: list[Criterion] = Field(min_length=1, max_length=30)
    threshold: float
    scale: tuple[float, float] = (1, 5)

    def problems(self) -> Iterator[tuple[tuple[str | int, ...], str]]:
        """A scale that runs backwards; a threshold or a floor outside it; a criterion twice."""
        low, high = self.scale
        if low >= high:
            yield ("scale",), f"scale [{low:g}, {high:g}] runs from a lower score to a higher one, e.g. [1, 5]"
            return
        if not low <= self.threshold <= high:
            yield ("threshold",), f"threshold {self.threshold:g} is outside the scale {low:g} to {high:g}"
        seen: set[str] = set()
        for i, c in enumerate(self.criteria):
            if c.key in seen:
                yield ("criteria", i, "key"), f"criterion '{c.key}' appears twice"
            seen.add(c.key)
            if c.floor is not None and not low <= c.floor <= high:
                where = ("criteria", i, "floor")
                yield where, f"floor {c.floor:g} of '{c.key}' is outside the scale {low:g} to {high:g}"


class WorkstreamsGate(_Gate):
    """A program's gate: passes by itself once the workstreams it names (default: all) have passed
    the phase ``passed`` names, or ``all`` of theirs (`workflows.rules.kinds.workstreams`)."""

    kind: Literal["workstreams"]
    workstreams: Literal["all"] | list[Annotated[str, Field(pattern=r"^[a-z0-9_]+$", max_length=40)]] = Field(
        default="all", min_length=1
    )
    passed: Literal["all"] | Key = "all"


GateSpec = ApprovalGate | ChecklistGate | KpiGate | RosterGate | ScorecardGate | WorkstreamsGate
"""Any gate of a plan; each kind's rules live in its module of `workflows.rules.kinds`."""
Gate = Annotated[GateSpec, Field(discriminator="kind")]
GATE_KINDS: tuple[str, ...] = tuple(get_args(g.model_fields["kind"].annotation)[0] for g in get_args(GateSpec))
"""The plan's gate kinds (``approval``, ...), in the order of `GateSpec`."""
