"""A program's workstreams, read from its plan: the plan each one runs, and how the plan's
workstreams fit together (checked with their lines by `models.plan_checks`).

A workstream runs the program's plan with its own phases and scope: the same roster, KPIs,
calendar, notifications and ladder unless it names its own, and no steady state or service
credits (the program governs the contract). Its id is ``PROGRAM/KEY``.
"""

from __future__ import annotations

from collections.abc import Iterator

from models.gates import WorkstreamsGate
from models.plan import Phase, Plan

Found = tuple[tuple[str | int, ...], str]

MAX_PROGRAM_ID = 120
"""The longest id of a program with workstreams: ``PROGRAM/KEY`` stays within Temporal's and the
audit table's limits."""
RESERVED_KEYS = (
    "api",
    "audit",
    "calendar",
    "evidence",
    "export",
    "gates",
    "kpi",
    "program",
    "qbr",
    "raid",
    "readings",
    "report",
    "status",
    "workstreams",
)
"""Names of the pages and routes under a transition's address: a workstream's key would be read
as one of them (``/t/PROGRAM/report``)."""


def workstream_id(program: str, key: str) -> str:
    """The id of workstream ``key`` of ``program``."""
    return f"{program}/{key}"


def split_id(transition_id: str) -> tuple[str, str | None]:
    """A transition id as (program, workstream key), the key None for a transition of its own."""
    program, _, key = transition_id.rpartition("/")
    return (program, key) if program else (transition_id, None)


def phases_of(plan: Plan, key: str) -> list[Phase]:
    """The phases workstream ``key`` runs: its own, or the plan's ``workstream_phases``."""
    stream = plan.workstream(key)
    assert stream is not None
    return list(stream.phases or plan.workstream_phases)


def workstream_plan(plan: Plan, key: str) -> Plan:
    """The plan workstream ``key`` of ``plan`` runs as a transition of its own."""
    stream = plan.workstream(key)
    assert stream is not None
    return plan.model_copy(
        update={
            "name": f"{plan.name}: {stream.name}"[:200],
            "phases": phases_of(plan, key),
            "scope": [s for s in plan.scope if s.key in stream.scope],
            "objectives": [],
            "steady_state": None,
            "service_credits": None,
            "escalation": plan.escalation if stream.escalation is None else stream.escalation,
            "notifications": plan.notifications if stream.notifications is None else stream.notifications,
            "workstreams": [],
            "workstream_phases": [],
        }
    )


def program_gates(plan: Plan) -> Iterator[tuple[int, int, WorkstreamsGate]]:
    """Every ``workstreams`` gate of the program's phases, with its phase's and its own index."""
    for pi, phase in enumerate(plan.phases):
        for gi, gate in enumerate(phase.gates):
            if isinstance(gate, WorkstreamsGate):
                yield pi, gi, gate


def start_phase(plan: Plan) -> int | None:
    """The index of the program's first phase holding a ``workstreams`` gate: entering it starts
    the workstreams (each once its ``after`` holds)."""
    return next((pi for pi, _, _ in program_gates(plan)), None)


def named(plan: Plan, gate: WorkstreamsGate) -> list[str]:
    """The keys of the workstreams a ``workstreams`` gate waits for."""
    return [w.key for w in plan.workstreams] if gate.workstreams == "all" else list(gate.workstreams)


def problems(plan: Plan) -> Iterator[Found]:
    """How the plan's workstreams fail to fit together, as (path, message)."""
    gates = list(program_gates(plan))
    if not plan.workstreams:
        for pi, gi, _ in gates:
            yield ("phases", pi, "gates", gi, "kind"), "a workstreams gate needs workstreams: the plan has none"
        if plan.workstream_phases:
            yield ("workstream_phases",), "workstream_phases without workstreams: nothing runs them"
        return
    keys = [w.key for w in plan.workstreams]
    if not gates:
        yield (
            ("workstreams",),
            (
                "the program starts its workstreams in its first phase holding a gate of kind workstreams; add one "
                "(for example `{key: all_live, kind: workstreams}`)"
            ),
        )
    yield from _streams(plan, keys)
    yield from _scope(plan)
    yield from _cycle(plan)
    for pi, gi, gate in gates:
        at = ("phases", pi, "gates", gi)
        for i, key in enumerate(named(plan, gate) if gate.workstreams != "all" else []):
            if key not in keys:
                yield (*at, "workstreams", i), f"unknown workstream '{key}'; known: {', '.join(keys)}"
            elif key in named(plan, gate)[:i]:
                yield (*at, "workstreams", i), f"workstream '{key}' appears twice"
        if gate.passed != "all":
            for key in named(plan, gate):
                if key in keys and gate.passed not in [p.key for p in phases_of(plan, key)]:
                    yield (*at, "passed"), f"workstream '{key}' has no phase '{gate.passed}'"


def _streams(plan: Plan, keys: list[str]) -> Iterator[Found]:
    seen: set[str] = set()
    for wi, stream in enumerate(plan.workstreams):
        at = ("workstreams", wi)
        if stream.key in seen:
            yield (*at, "key"), f"workstream '{stream.key}' appears twice"
        seen.add(stream.key)
        if stream.key in RESERVED_KEYS:
            yield (*at, "key"), f"'{stream.key}' names a page of the web app; choose another workstream key"
        if not (stream.phases or plan.workstream_phases):
            yield (*at, "phases"), "no phases: give the workstream its own, or the plan workstream_phases"
        for other, passed in stream.after.items():
            if other == stream.key:
                yield (*at, "after", other), "a workstream cannot wait for itself"
            elif other not in keys:
                yield (*at, "after", other), f"unknown workstream '{other}'; known: {', '.join(keys)}"
            elif passed not in [p.key for p in phases_of(plan, other)]:
                yield (*at, "after", other), f"workstream '{other}' has no phase '{passed}'"
        for pi, phase in enumerate(stream.phases or []):
            for gi, gate in enumerate(phase.gates):
                if isinstance(gate, WorkstreamsGate):
                    yield (*at, "phases", pi, "gates", gi, "kind"), "only the program's phases hold workstreams gates"
    for pi, phase in enumerate(plan.workstream_phases):
        for gi, gate in enumerate(phase.gates):
            if isinstance(gate, WorkstreamsGate):
                yield ("workstream_phases", pi, "gates", gi, "kind"), "only the program's phases hold workstreams gates"


def _scope(plan: Plan) -> Iterator[Found]:
    carried: dict[str, str] = {}
    scope = [s.key for s in plan.scope]
    for wi, stream in enumerate(plan.workstreams):
        for si, item in enumerate(stream.scope):
            if item not in scope:
                yield ("workstreams", wi, "scope", si), f"unknown scope item '{item}'; known: {', '.join(scope)}"
            elif item in carried:
                yield ("workstreams", wi, "scope", si), f"scope item '{item}' is carried by '{carried[item]}' too"
            carried.setdefault(item, stream.key)
    for si, item in enumerate(scope):
        if item not in carried:
            yield ("scope", si, "key"), f"scope item '{item}' is carried by no workstream"


def _cycle(plan: Plan) -> Iterator[Found]:
    """A ring of ``after`` dependencies, reported once at the first workstream on it."""
    after = {w.key: [o for o in w.after if o != w.key] for w in plan.workstreams}  # itself: said apart
    done: set[str] = set()
    for wi, stream in enumerate(plan.workstreams):
        found = _ring(stream.key, after, [], done)
        if found is not None:
            yield ("workstreams", wi, "after"), f"the workstreams wait for each other in a ring: {' → '.join(found)}"
            return


def _ring(key: str, after: dict[str, list[str]], path: list[str], done: set[str]) -> list[str] | None:
    """The ring of dependencies reached from ``key`` along ``path``, if any (depth first)."""
    if key in path:
        return [*path[path.index(key) :], key]
    if key in done or key not in after:
        return None
    path.append(key)
    for other in after[key]:
        if (found := _ring(other, after, path, done)) is not None:
            return found
    path.pop()
    done.add(key)
    return None
