"""The command registry holds: every member of `Command` is declared once, in the models' table, the
rules' table and the command line's, and the workflow, the CLI and the web app are built from it."""

from __future__ import annotations

import inspect
from collections import Counter
from typing import get_args

import pytest
from temporalio.workflow import _Definition

from bpo.api import BpoError
from bpo.commands.deciding import decision
from bpo.commands.registry import CLI, ELSEWHERE
from bpo.web.acting import FIELDS, GATE_ACTIONS, build
from bpo.web.sessions import Visitor
from models.commands import BY_UPDATE, COMMANDS, Approve, Command, Escalate, Pause, Resume
from models.constants import AUDIT_WRITTEN_UPDATE
from models.plan import Person
from starter import build_parser
from workflows.rules.registry import RULES
from workflows.transition import TransitionWorkflow


def unregistered(members: tuple[type, ...], table: list[type]) -> list[str]:
    """What is wrong with ``table`` as a registry of ``members``: each missing, twice, or extra."""
    counts = Counter(table)
    wrong = [f"{m.__name__} is not registered" for m in members if m not in counts]
    wrong += [f"{m.__name__} is registered {n} times" for m, n in counts.items() if n > 1]
    return wrong + [f"{m.__name__} is not a Command" for m in counts if m not in members]


def test_every_command_of_the_union_is_in_the_command_table_once():
    assert unregistered(get_args(Command), list(COMMANDS)) == []


def test_the_registry_check_names_a_command_left_out_or_written_twice():
    members = get_args(Command)
    assert unregistered(members, [*COMMANDS[1:], COMMANDS[2]]) == [
        f"{COMMANDS[0].__name__} is not registered",
        f"{COMMANDS[2].__name__} is registered 2 times",
    ]
    assert unregistered(members[1:], list(COMMANDS)) == [f"{members[0].__name__} is not a Command"]


def test_each_update_name_is_unique_and_finds_its_command():
    names = [c.update for c in COMMANDS]
    assert len(set(names)) == len(names)
    assert all(BY_UPDATE[c.update] is c for c in COMMANDS)


def test_every_command_has_its_rules_once():
    assert unregistered(get_args(Command), [rule.command for rule in RULES]) == []


def test_every_command_is_on_the_command_line_once_built_from_the_registry_or_on_its_own():
    assert unregistered(get_args(Command), [*CLI, *ELSEWHERE]) == []
    subcommands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert all(c.update in subcommands for c in CLI)
    for command_type, cli in CLI.items():
        assert set(cli.positional) | set(cli.options) <= set(command_type.model_fields)


def test_the_workflow_takes_each_command_as_an_update_of_its_name_and_approve_pins_evidence_first():
    definition = _Definition.must_from_class(TransitionWorkflow)
    # and one more, no command: a reader of the trail waits on it (`workflows.trail`)
    assert set(definition.updates) == {*BY_UPDATE, AUDIT_WRITTEN_UPDATE}
    # the approve handler is the class's own, which awaits the evidence's pin before applying
    assert inspect.iscoroutinefunction(definition.updates["approve"].fn)
    assert not any(inspect.iscoroutinefunction(definition.updates[n].fn) for n in BY_UPDATE if n != "approve")


def test_every_command_but_those_added_since_is_also_a_signal_and_the_refusal_names_the_same_list():
    # A signal's refusal text is audited, so the list it names must stay what histories recorded.
    takes_signals = [c.update for c in COMMANDS if c.signal]
    assert takes_signals == [
        "approve", "tick", "reject", "waive", "pause", "resume", "cancel", "change_roster", "escalate",
        "record_readings", "record_batch", "delegate", "retry_notices", "raid_add", "raid_close", "amend",
        "pull_feed", "trust_keys",
    ]  # fmt: skip


def test_a_decision_typed_at_the_command_line_becomes_its_command():
    parse = build_parser().parse_args
    approve = decision(parse(["approve", "t-1", "go_live", "--by", "li", "--evidence", "https://x.example/e"]))
    assert approve == Approve(gate="go_live", by="li", evidence="https://x.example/e")
    escalate = decision(parse(["escalate", "t-1", "--by", "li", "--reason", "late", "--level", "2"]))
    assert escalate == Escalate(by="li", reason="late", level=2)
    assert decision(parse(["resume", "t-1", "--by", "li"])) == Resume(by="li")


def test_a_reason_the_command_requires_is_required_at_the_command_line(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["pause", "t-1", "--by", "li"])
    assert "--reason" in capsys.readouterr().err
    assert decision(build_parser().parse_args(["pause", "t-1", "--by", "li", "--reason", "audit"])) == Pause(
        by="li", reason="audit"
    )


def test_the_web_offers_the_gate_decisions_with_their_forms_and_never_a_key_rotation():
    assert GATE_ACTIONS == ("approve", "tick", "score", "reject", "waive")
    assert FIELDS == {
        "approve": ("note", "evidence"),
        "tick": ("item", "note"),
        "score": ("scores", "evidence", "note"),
        "reject": ("reason",),
        "waive": ("reason",),
    }
    me = Visitor(email="li@acme.example", via="web-oidc", operator="issuer li")
    li = Person(id="li@acme.example", name="Li", org="client", roles=["transition_lead"])
    with pytest.raises(BpoError, match="unknown decision 'trust_keys'"):
        build("trust_keys", li, me, {"add": ["key"]})
    assert build("approve", li, me, {"gate": "go_live", "note": ""}) == Approve(
        gate="go_live", by=li.id, via="web-oidc", operator="issuer li"
    )
