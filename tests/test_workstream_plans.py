"""A program's plan: what validation refuses in its workstreams, each with its line, and what a
workstream runs (its own phases and scope; the program's roster, KPIs and ladder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.plan_loader import PlanError, parse_plan
from models.workstreams import split_id, workstream_plan

PROGRAM = (Path(__file__).resolve().parent.parent / "examples" / "program-plan.yaml").read_text()


def problems(text: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(PlanError) as caught:
        parse_plan(text, env={})
    return [(p.line, p.path, p.message) for p in caught.value.problems]


def line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


def test_the_example_program_is_valid_and_each_workstream_runs_its_own_scope():
    plan = parse_plan(PROGRAM, env={}).plan
    chat = workstream_plan(plan, "chat")
    assert [p.key for p in chat.phases] == ["knowledge_transfer", "pilot", "hypercare"]
    assert [s.key for s in chat.scope] == ["chat_support"]
    assert chat.steady_state is None and chat.workstreams == []
    assert chat.people == plan.people and chat.kpis == plan.kpis and chat.escalation == plan.escalation
    assert split_id("acme/chat") == ("acme", "chat") and split_id("acme") == ("acme", None)


def test_a_dependency_ring_is_refused_at_the_workstream_that_starts_it():
    text = PROGRAM.replace(
        "    scope: [email_support]\n", "    scope: [email_support]\n    after: {chat: knowledge_transfer}\n"
    )
    found = [f for f in problems(text) if "ring" in f[2]]
    assert [(line, path) for line, path, _ in found] == [
        (line_of(text, "after: {chat: knowledge_transfer}"), "workstreams[0].after")
    ]
    assert "email → chat → email" in found[0][2]


@pytest.mark.parametrize(
    ("change", "where", "says"),
    [
        (("after: {email: pilot}", "after: {fax: pilot}"), "workstreams[1].after.fax", "unknown workstream 'fax'"),
        (("after: {email: pilot}", "after: {email: launch}"), "workstreams[1].after.email", "has no phase 'launch'"),
        (
            ("scope: [voice_support]", "scope: [voice_support, chat_support]"),
            "workstreams[2].scope[1]",
            "carried by 'chat' too",
        ),
        (
            ("scope: [voice_support]", "scope: [fax_support]"),
            "workstreams[2].scope[0]",
            "unknown scope item 'fax_support'",
        ),
        (("  - key: voice\n", "  - key: report\n"), "workstreams[2].key", "names a page of the web app"),
        (("passed: all", "passed: launch"), "phases[1].gates[0].passed", "has no phase 'launch'"),
    ],
)
def test_what_does_not_fit_is_refused_with_its_line(change, where, says):
    text = PROGRAM.replace(*change)
    assert text != PROGRAM
    found = problems(text)
    hit = [f for f in found if f[1] == where and says in f[2]]
    assert hit, found
    assert hit[0][0] is not None


def test_a_scope_item_no_workstream_carries_is_refused():
    text = PROGRAM.replace("    scope: [voice_support]\n", "    scope: [chat_support]\n").replace(
        "    scope: [chat_support]\n    after", "    scope: [email_support]\n    after", 1
    )
    found = problems(text.replace("  - key: voice\n    name: Inbound voice\n    scope: [chat_support]\n", ""))
    assert any("'voice_support' is carried by no workstream" in f[2] for f in found), found


def test_a_workstreams_gate_in_a_plan_without_workstreams_is_refused():
    start = PROGRAM.index("workstream_phases:")
    end = PROGRAM.index("phases:\n  - key: planning")
    found = problems(PROGRAM[:start] + PROGRAM[end:])
    assert any(f[1] == "phases[1].gates[0].kind" and "the plan has none" in f[2] for f in found), found


def test_a_workstream_phase_is_checked_like_any_phase_at_its_own_line():
    text = PROGRAM.replace("approvers: {roles: [sme]}", "approvers: {roles: [wizard]}")
    found = problems(text)
    assert any(f[1].startswith("workstream_phases[0].gates[0].approvers") and "wizard" in f[2] for f in found), found


def test_workstreams_without_a_gate_to_start_them_are_refused():
    text = PROGRAM.replace(
        "        kind: workstreams\n        passed: all\n", "        kind: roster\n        requires: [sme]\n"
    )
    found = problems(text)
    assert any(f[1] == "workstreams" and "kind workstreams" in f[2] for f in found), found
