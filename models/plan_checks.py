"""How a plan's parts fit together: the checks a person wants before a transition starts."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from models import workstreams
from models.durations import BusinessTime, format_span
from models.gates import Approvers, ChecklistGate, KpiGate, RosterGate
from models.jsonpath import parse_path
from models.plan import STANDARD_ROLES, Phase, Plan
from models.plan_words import EscalationLevel

Found = tuple[tuple[str | int, ...], str]

AMENDMENT_PREFIX = "amendment_"
"""What the gate of a proposed amendment is named by (``amendment_2``), so no gate of a plan may be."""


def _known(kind: str, name: str, known: Iterable[str]) -> str:
    names = sorted(set(known))
    listed = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    return f"unknown {kind} '{name}'; known: {listed or 'none'}"


def _duplicates(items: list[Any], attr: str, path: tuple[str | int, ...], what: str) -> Iterator[Found]:
    seen: set[str] = set()
    for i, item in enumerate(items):
        value = getattr(item, attr)
        if value in seen:
            yield (*path, i, attr), f"{what} '{value}' appears twice"
        seen.add(value)


def channels_once(plan: Plan) -> Iterator[Found]:
    """A kind of channel listed twice in the plan's notifications, or in a workstream's: a
    notice's deliveries are told apart by their channel's kind (the id of its sent row,
    `models.deliveries.delivery_id`), so the second's would be taken for the first's, and after a
    worker lost between the two, its notice never sent. Checked where a plan is read, not among
    the rules (`cross_check`): a running transition keeps the plan it was started with."""
    lists: list[tuple[tuple[str | int, ...], list[Any]]] = [(("notifications",), plan.notifications)]
    lists += [(("workstreams", i, "notifications"), w.notifications or []) for i, w in enumerate(plan.workstreams)]
    for path, channels in lists:
        kinds = [c.kind for c in channels]
        for i, kind in enumerate(kinds):
            if kind in kinds[:i]:
                told = "a notice's deliveries are told apart by their channel's kind"
                yield (*path, i, "kind"), f"a second '{kind}' channel: list each kind once ({told})"


def eligible(plan: Plan, approvers: Approvers) -> list[str]:
    """Ids of the people on the roster who hold one of ``approvers.roles``."""
    return [p.id for p in plan.people if set(p.roles) & set(approvers.roles)]


def reserved_names(plan: Plan, kept: Collection[str] = ()) -> list[Found]:
    """Every gate key the engine keeps for itself, as (path, message), but those in ``kept``.
    Checked where a plan is accepted (``bpo validate``, ``bpo start``, ``/start``, ``bpo amend``)
    and by the workflow's check of an amendment; an amendment ``kept`` the keys its running plan
    already has, since a transition begun before the name was kept must stay amendable."""
    lists: list[tuple[tuple[str | int, ...], list[Phase]]] = [(("phases",), plan.phases)]
    lists.append((("workstream_phases",), plan.workstream_phases))  # a workstream's gates too
    lists += [(("workstreams", wi, "phases"), w.phases or []) for wi, w in enumerate(plan.workstreams)]
    return [
        (
            (*root, pi, "gates", gi, "key"),
            f"gate key '{gate.key}' starts with '{AMENDMENT_PREFIX}', "
            "which names the gates of proposed amendments; choose another key",
        )
        for root, phases in lists
        for pi, phase in enumerate(phases)
        for gi, gate in enumerate(phase.gates)
        if gate.key.startswith(AMENDMENT_PREFIX) and gate.key not in kept
    ]


def cross_check(plan: Plan) -> list[Found]:
    """Every problem in how the plan's parts refer to one another, as (path, message)."""
    found = list(_cross_check(plan))
    if plan.workstreams or plan.workstream_phases or any(workstreams.program_gates(plan)):
        found += workstreams.problems(plan)
        found += [f for f in dict.fromkeys(_workstream_phases(plan)) if f not in found]
    return found


def _workstream_phases(plan: Plan) -> Iterator[Found]:
    """What is wrong in the phases each workstream runs, at the line it is written on (its own
    phases, or the plan's ``workstream_phases``)."""
    keys = [w.key for w in plan.workstreams]
    for wi, stream in enumerate(plan.workstreams):
        if keys.index(stream.key) != wi or not (stream.phases or plan.workstream_phases):
            continue  # said already
        root: tuple[str | int, ...] = ("workstreams", wi, "phases") if stream.phases else ("workstream_phases",)
        for path, message in _cross_check(workstreams.workstream_plan(plan, stream.key)):
            if path[:1] == ("phases",):
                yield (*root, *path[1:]), message
            elif path[:1] == ("escalation",) and stream.escalation is not None:  # its own ladder
                yield ("workstreams", wi, *path), message


def _cross_check(plan: Plan) -> Iterator[Found]:
    kpis = [k.key for k in plan.kpis]
    roles = set(STANDARD_ROLES) | set(plan.roles) | {r for p in plan.people for r in p.roles}
    phases = [p.key for p in plan.phases]

    yield from _duplicates(plan.people, "id", ("people",), "person")
    yield from _duplicates(plan.kpis, "key", ("kpis",), "KPI")
    yield from _duplicates(plan.scope, "key", ("scope",), "scope process")
    yield from _duplicates(plan.objectives, "key", ("objectives",), "objective")
    yield from _duplicates(plan.phases, "key", ("phases",), "phase")
    gate_keys: set[str] = set()

    def roles_in(names: list[str], path: tuple[str | int, ...]) -> Iterator[Found]:
        for i, role in enumerate(names):
            if role not in roles:
                yield (*path, i), _known("role", role, roles)

    def kpi_ref(name: str | None, path: tuple[str | int, ...]) -> Iterator[Found]:
        if name is not None and name not in kpis:
            yield path, _known("KPI", name, kpis)

    for i, o in enumerate(plan.objectives):
        yield from kpi_ref(o.kpi, ("objectives", i, "kpi"))
    if plan.service_credits:
        for i, c in enumerate(plan.service_credits.credits):
            yield from kpi_ref(c.kpi, ("service_credits", "credits", i, "kpi"))
        for i, b in enumerate(plan.service_credits.bonuses):
            yield from kpi_ref(b.kpi, ("service_credits", "bonuses", i, "kpi"))
    case, credits = plan.business_case, plan.service_credits
    if case and credits and case.currency != credits.currency:
        yield ("business_case", "currency"), (
            f"the business case is in {case.currency} but service credits are in {credits.currency}; "
            "savings are netted of credits and bonuses in one currency"
        )
    for i, level in enumerate(plan.escalation):
        yield from roles_in(level.notify, ("escalation", i, "notify"))
    yield from _clocks(plan)
    if plan.steady_state:
        yield from roles_in(plan.steady_state.breach_alert, ("steady_state", "breach_alert"))
    yield from roles_in(plan.kpi_reporters, ("kpi_reporters",))
    yield from roles_in(plan.breach_alert, ("breach_alert",))
    yield from _feeds(plan)

    for pi, phase in enumerate(plan.phases):
        at: tuple[str | int, ...] = ("phases", pi)
        if phase.due and phase.min_duration and _longer(plan, phase.min_duration, phase.due):
            yield (*at, "min_duration"), "min_duration is longer than due, so the phase is late by design"
        if phase.on_reject:
            target = plan.phase_index(phase.on_reject.back_to)
            if target is None:
                yield (*at, "on_reject", "back_to"), _known("phase", phase.on_reject.back_to, phases)
            elif target > pi:
                yield (
                    (*at, "on_reject", "back_to"),
                    (
                        f"back_to '{phase.on_reject.back_to}' comes after '{phase.key}'; rework goes back, "
                        f"to this phase or one before it: {', '.join(phases[: pi + 1])}"
                    ),
                )
        if phase.waves and any(b <= a for a, b in zip(phase.waves, phase.waves[1:])):
            yield (*at, "waves"), "waves must grow, for example [25, 50, 100]"
        if phase.waves and any(w <= 0 or w > 100 for w in phase.waves):
            yield (*at, "waves"), "each wave is a share of the volume, above 0 and at most 100"
        for li, level in enumerate(phase.escalation or []):
            yield from roles_in(level.notify, (*at, "escalation", li, "notify"))
        for gi, gate in enumerate(phase.gates):
            g = (*at, "gates", gi)
            if gate.key in gate_keys:
                yield (*g, "key"), f"gate '{gate.key}' appears twice; gate keys are unique across the plan"
            gate_keys.add(gate.key)
            if isinstance(approvers := getattr(gate, "approvers", None), Approvers):  # any kind signed off
                yield from roles_in(approvers.roles, (*g, "approvers", "roles"))
                yield from _approvable(plan, approvers, getattr(gate, "orgs", []), g)
            if isinstance(gate, ChecklistGate):
                items = plan.checklist_items(gate)
                if not items:
                    yield (*g, "items"), "items: scope, but the plan has no scope"
                if len(set(items)) != len(items):
                    yield (*g, "items"), "an item appears twice"
            if isinstance(gate, KpiGate):
                for mi, metric in enumerate(gate.metrics):
                    yield from kpi_ref(metric, (*g, "metrics", mi))
            if isinstance(gate, RosterGate):
                yield from roles_in(gate.requires, (*g, "requires"))
            yield from (((*g, *path), message) for path, message in gate.problems())
            for li, level in enumerate(gate.escalation or []):
                yield from roles_in(level.notify, (*g, "escalation", li, "notify"))


def _approvable(plan: Plan, approvers: Approvers, orgs: list[str], at: tuple[str | int, ...]) -> Iterator[Found]:
    people = eligible(plan, approvers)
    roles = ", ".join(approvers.roles)
    sides = {p.org for p in plan.people if p.id in people}
    for i, org in enumerate(orgs if people else []):
        if org not in sides:
            yield (*at, "orgs", i), f"no one at {org} holds {roles}, so {org} can never sign this gate off"
    if not people:
        yield (*at, "approvers"), f"no one on the roster holds {roles}, so no one can sign this gate off"
    elif approvers.quorum and approvers.quorum > len(people):
        yield (
            (*at, "approvers", "quorum"),
            (
                f"quorum {approvers.quorum} needs that many people holding {roles}; "
                f"the roster has {len(people)}: {', '.join(people)}"
            ),
        )


def _kind(span: object) -> str:
    return "business" if isinstance(span, BusinessTime) else "wall-clock"


def _longer(plan: Plan, a: timedelta | BusinessTime, b: timedelta | BusinessTime) -> bool:
    """Whether ``a`` is longer than ``b``, when both count the same kind of time."""
    if isinstance(a, timedelta) and isinstance(b, timedelta):
        return a > b
    if isinstance(a, BusinessTime) and isinstance(b, BusinessTime) and plan.calendar:
        return a.seconds(plan.calendar.day_seconds) > b.seconds(plan.calendar.day_seconds)
    return False


def _clocks(plan: Plan) -> Iterator[Found]:
    """Business time needs a calendar; a ladder counts past a due in the same kind of time as
    the due itself; ``warn_at`` and a gate's own ladder need a ``due`` to count from."""

    def spans(node: Any, path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], Any]]:
        if isinstance(node, BusinessTime):
            yield path, node
        elif isinstance(node, list):
            for i, item in enumerate(node):
                yield from spans(item, (*path, i))
        elif isinstance(node, BaseModel):
            for name in type(node).model_fields:
                yield from spans(getattr(node, name), (*path, name))

    if plan.calendar is None:
        for path, span in spans(plan, ()):
            yield path, f"{span} counts business time; give the plan a calendar (timezone, workdays, hours, holidays)"

    def ladder(due: Any, levels: list[EscalationLevel], at: tuple[str | int, ...], owner: str) -> Iterator[Found]:
        for li, level in enumerate(levels):
            if _kind(level.after) != _kind(due):
                yield (
                    (*at, li, "after"),
                    f"after: {format_span(level.after)} counts {_kind(level.after)} time but {owner}'s due "
                    f"({format_span(due)}) counts "
                    f"{_kind(due)} time; write both in the same kind",
                )

    for pi, phase in enumerate(plan.phases):
        at: tuple[str | int, ...] = ("phases", pi)
        own = phase.escalation is not None
        levels = plan.ladder(phase)
        if phase.due:
            yield from ladder(phase.due, levels, (*at, "escalation") if own else ("escalation",), phase.key)
        elif phase.warn_at:
            yield (*at, "warn_at"), "warn_at is a share of due; give the phase a due"
        for gi, gate in enumerate(phase.gates):
            g = (*at, "gates", gi)
            if gate.due:
                gate_own = gate.escalation is not None
                where = (*g, "escalation") if gate_own else (*at, "escalation") if own else ("escalation",)
                yield from ladder(gate.due, gate.escalation if gate_own else levels, where, gate.key)  # type: ignore[arg-type]
            elif gate.escalation is not None:
                yield (*g, "escalation"), "a gate's own escalation counts past its own due; give the gate a due"
            elif gate.warn_at:
                yield (*g, "warn_at"), "warn_at is a share of due; give the gate a due"


def _feeds(plan: Plan) -> Iterator[Found]:
    """Each KPI's feed names a source the plan lists, with a selector that source can read."""
    yield from _duplicates(plan.feeds, "name", ("feeds",), "feed")
    kinds = {f.name: f.kind for f in plan.feeds}
    uses = [(("feed",), plan.feed)] + [(("kpis", i, "feed"), k.feed) for i, k in enumerate(plan.kpis)]
    for path, use in uses:
        if use is None:
            continue
        if use.source not in kinds:
            yield (*path, "source"), _known("feed", use.source, kinds)
        elif kinds[use.source] == "json" and use.select:
            try:
                parse_path(use.select.replace("{kpi}", "kpi").replace("{period}", "period"))
            except ValueError as exc:
                yield (*path, "select"), str(exc)
