"""Property tests: random decisions, readings, pauses and time fed to the pure state machine,
and random plan files fed to the loader."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.commands import Approve, ChangeRoster, Pause, RecordReadings, Reject, Resume, Tick, Waive
from models.plan import SENIOR_ROLES, STANDARD_ROLES, Person
from models.plan_loader import PlanError, parse_plan
from tests.conftest import REFERENCE_PLAN
from workflows.rules import HEALTH_ORDER, Machine, Refused

TEXT = REFERENCE_PLAN.read_text()
PLAN = parse_plan(TEXT, env={}).plan
START = datetime(2027, 1, 4, tzinfo=UTC)
PEOPLE = [p.id for p in PLAN.people] + ["stranger@example.com"]
GATES = [g.key for p in PLAN.phases for g in p.gates] + ["no_such_gate"]
ITEMS = [
    "raci",
    "escalation_matrix",
    "communication_protocol",
    "knowledge_base",
    "email_support",
    "chat_support",
    "shared_calendar",
    "collaboration_tools",
    "cultural_orientation",
    "feedback_channel",
    "lunch",
]
METRICS = [k.key for k in PLAN.kpis]

people, gates = st.sampled_from(PEOPLE), st.sampled_from(GATES)
commands = st.one_of(
    st.builds(Approve, gate=gates, by=people, evidence=st.sampled_from([None, "MIN-1"])),
    st.builds(Tick, gate=gates, item=st.sampled_from(ITEMS), by=people),
    st.builds(Reject, gate=gates, by=people, reason=st.just("not ready")),
    st.builds(Waive, gate=gates, by=people, reason=st.just("agreed")),
    st.builds(
        RecordReadings,
        period=st.sampled_from(["P1", "P2", "P3", "P4", "P5"]),
        values=st.dictionaries(st.sampled_from(METRICS), st.floats(0, 120, allow_nan=False), min_size=1, max_size=4),
        by=people,
    ),
    st.builds(Pause, by=people, reason=st.just("hold")),
    st.builds(Resume, by=people),
)
# A step is a command, or time passing (seconds, up to 20 days).
steps = st.lists(st.one_of(commands, st.integers(1, 20 * 86400)), min_size=1, max_size=60)


def run(sequence: list[Any], repeat: bool = False) -> tuple[Machine, list[str]]:
    """Feed ``sequence`` to a new machine, checking the invariants after every step."""
    now = START
    machine = Machine.start(PLAN, "prop", now)
    furthest, notes = 0, []
    for step in sequence:
        s = machine.state
        before = s.model_dump()
        where, health, reworks = (s.phase_index, s.attempt), s.health, sum(s.reworks.values())
        if isinstance(step, int):
            now += timedelta(seconds=step)
            machine.advance(now)
            if before["state"] == "paused":  # paused time never counts: nothing moves
                assert machine.state.model_dump() == before
        else:
            for _ in range(2 if repeat else 1):
                try:
                    machine.apply(step, now)
                except Refused as refusal:
                    notes.append(refusal.kind)
                    if _ == 0:
                        assert machine.state.model_dump() == before, "a refusal changed the state"
        s = machine.state
        if s.phase_index < furthest:  # a passed phase reopens only by rework
            assert isinstance(step, Reject) and sum(s.reworks.values()) > reworks
        furthest = s.phase_index if s.phase_index >= furthest or isinstance(step, Reject) else furthest
        if (s.phase_index, s.attempt) == where and s.health != health:  # within a phase, health only rises
            assert HEALTH_ORDER.index(s.health) > HEALTH_ORDER.index(health)
    return machine, notes


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_invariants_hold_for_any_sequence(sequence):
    run(sequence)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_sending_every_command_twice_ends_where_sending_it_once_does(sequence):
    once, _ = run(sequence)
    twice, _ = run(sequence, repeat=True)
    now = START + timedelta(days=3650)
    drop = {"decisions"}
    assert once.status(now).model_dump(exclude=drop) == twice.status(now).model_dump(exclude=drop)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["P1", "P2", "P3"]), min_size=1, max_size=8), st.integers(1, 10))
def test_a_decision_counts_once_whatever_else_happens(periods, times):
    machine = Machine.start(PLAN, "prop", START)
    for _ in range(times):
        machine.apply(Approve(gate="slas_signed", by="dana@acme.example"), START)
    gate = machine.gate_status(next(g for g in machine.state.gates if g.key == "slas_signed"))
    assert gate.progress == "1/2 approvals"


# --- random plan files -------------------------------------------------------------------

LINES = TEXT.splitlines()
edits = st.lists(
    st.tuples(
        st.sampled_from(["delete", "duplicate", "replace", "indent"]),
        st.integers(0, len(LINES) - 1),
        st.text(st.characters(blacklist_categories=("Cs",)), max_size=30),
    ),
    min_size=1,
    max_size=6,
)


def mutate(changes: list[tuple[str, int, str]]) -> str:
    lines = list(LINES)
    for kind, at, text in changes:
        at %= len(lines)
        if kind == "delete":
            del lines[at]
        elif kind == "duplicate":
            lines.insert(at, lines[at])
        elif kind == "indent":
            lines[at] = "  " + lines[at]
        else:
            key, sep, _ = lines[at].partition(":")
            lines[at] = f"{key}{sep} {text}" if sep else text
        if not lines:
            lines = ["name: x"]
    return "\n".join(lines)


def check_refusal(text: str) -> None:
    try:
        parse_plan(text, "plan.yaml", env={})
    except PlanError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.line is not None or problem.path, problem
            assert problem.message


@settings(max_examples=300, deadline=None)
@given(edits)
def test_the_loader_never_crashes_and_every_refusal_names_a_place(changes):
    check_refusal(mutate(changes))


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
        max_leaves=20,
    )
)
def test_any_yaml_value_is_refused_with_a_place_not_a_crash(value):
    import yaml

    check_refusal(yaml.safe_dump(value))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_a_repeated_request_id_never_changes_state_or_the_trail(sequence):
    numbered = [s if isinstance(s, int) else s.model_copy(update={"request_id": f"r-{n}"}) for n, s in enumerate(sequence)]
    once, _ = run(numbered)
    twice, _ = run(numbered, repeat=True)
    assert once.state.model_dump() == twice.state.model_dump()
    assert once.take_outbox().model_dump() == twice.take_outbox().model_dump()


entries = st.builds(
    Person,
    id=st.sampled_from(PEOPLE[:-1] + ["new@acme.example", "new@northstar.example"]),
    name=st.just("Someone"),
    org=st.sampled_from(["client", "provider"]),
    roles=st.lists(st.sampled_from(STANDARD_ROLES[:8]), min_size=1, max_size=3, unique=True),
)
roster_changes = st.lists(
    st.builds(
        ChangeRoster,
        add=st.lists(entries, max_size=2, unique_by=lambda p: p.id),
        remove=st.lists(st.sampled_from(PEOPLE[:-1]), max_size=1),
        by=people,
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(roster_changes)
def test_no_roster_change_lets_a_person_gain_a_role_no_one_allowed_granted(changes):
    machine = Machine.start(PLAN, "prop", START)
    for change in changes:
        before = {p.id: p for p in machine.state.people}
        try:
            machine.apply(change, START)
        except Refused:
            continue
        granter = before[change.by]
        after = {p.id: p for p in machine.state.people}
        for pid in before.keys() | after.keys():
            old = set(before[pid].roles) if pid in before else set()
            new = set(after[pid].roles) if pid in after else set()
            if old == new:
                continue
            assert pid != change.by, f"{pid} changed their own roles"
            org = (after.get(pid) or before[pid]).org
            assert granter.org == org, f"{change.by} ({granter.org}) changed {pid} ({org})"
            if (old ^ new) & set(SENIOR_ROLES):
                assert "executive_sponsor" in granter.roles, f"{change.by} changed sponsor-level roles of {pid}"
            else:
                assert set(granter.roles) & {"executive_sponsor", "program_manager", "transition_lead"}
