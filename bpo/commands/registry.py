"""The command line's half of the command registry: how each command reads as a `bpo` subcommand.

The commands that share one shape (``bpo NAME ID [POSITIONAL...] --by PERSON [--FIELD ...]``, run
by `bpo.commands.deciding.cmd_decide`) are declared here once and their subcommands built from
their models: each field of the model not named positional becomes an option of the same name,
required where the model requires it. The others have a subcommand of their own, named in
`ELSEWHERE`; `tests/test_registry.py` holds the two against `models.commands.COMMANDS`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from models.commands import (
    Amend,
    Approve,
    Cancel,
    ChangeRoster,
    Command,
    Decided,
    Delegate,
    Escalate,
    Note,
    Pause,
    PullFeed,
    RaidAdd,
    RaidClose,
    ReadingsBatch,
    RecordCost,
    RecordReadings,
    Reject,
    Resume,
    RetryNotices,
    Score,
    Tick,
    TrustKeys,
    Waive,
)


@dataclass(frozen=True)
class Cli:
    """A command's subcommand: its help, its positional arguments after the transition's id, and
    argparse's keywords for any option that needs more than its name (a metavar, a help)."""

    help: str
    positional: tuple[str, ...] = ()
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    run: str = "deciding:cmd_decide"


CLI: dict[type[Command], Cli] = {
    Approve: Cli(
        "approve a gate",
        ("gate",),
        {"evidence": {"metavar": "REF", "help": "a link or reference backing the approval"}},
    ),
    Tick: Cli("tick one item of a checklist gate", ("gate", "item")),
    Reject: Cli("reject a gate (rework, or a halt past the rework limit)", ("gate",)),
    Waive: Cli("pass a gate without its condition", ("gate",)),
    Pause: Cli("stop every clock of a transition"),
    Resume: Cli("start the clocks again"),
    Cancel: Cli("end a transition"),
    Escalate: Cli(
        "raise an escalation by hand now, notified like a timed one",
        options={"level": {"metavar": "N", "help": "the ladder level (default: the next one)"}},
    ),
    Score: Cli(
        "score every criterion of a scorecard gate (scoring again replaces your scores)",
        ("gate",),
        {
            "scores": {"metavar": "CRITERION=SCORE", "help": "one score per criterion, e.g. quality=4 tooling=3"},
            "evidence": {"metavar": "CRITERION=REF", "help": "a link or reference per criterion that needs one"},
        },
    ),
    Note: Cli("add a note to a transition's audit trail", ("text",)),
    RecordCost: Cli(
        "record an actual cost of the transition, in the business case's currency",
        options={
            "amount": {"metavar": "A", "help": "the sum, to the cent (1250.50)"},
            "category": {"metavar": "C", "help": "what it was spent on: travel, severance, tooling, ..."},
            "note": {"metavar": "T", "help": "what it was (an invoice, a purchase order)"},
        },
    ),
}
"""The commands built from their models, in the order `bpo --help` lists them."""

ELSEWHERE: dict[type[Command], str] = {
    RecordReadings: "bpo kpi ID --period LABEL METRIC=VALUE...",
    ReadingsBatch: "bpo kpi ID --file READINGS.csv",
    Delegate: "bpo delegate",
    RaidAdd: "bpo raid ID add",
    RaidClose: "bpo raid ID close",
    Amend: "bpo amend",
    ChangeRoster: "bpo roster",
    RetryNotices: "bpo notices ID --retry",
    PullFeed: "bpo feed ID --pull-now",
    TrustKeys: "bpo keys rotate",
}
"""The commands with a subcommand of their own shape, and where it is."""

SENT = set(Decided.model_fields)
"""Fields every command carries that the sender fills in, not the person typing (``--by`` aside)."""


def add_commands(add: Callable[[str, str, str], argparse.ArgumentParser]) -> None:
    """Add a subcommand for each command of `CLI` through ``add(name, help, func)``."""
    for command_type, cli in CLI.items():
        p = add(command_type.update, cli.help, cli.run)
        p.add_argument("id")
        for name in cli.positional:
            p.add_argument(name)
        p.add_argument("--by", required=True, metavar="PERSON", help="your id on the roster")
        for name, info in command_type.model_fields.items():
            if name in SENT or name in cli.positional:
                continue
            kwargs: dict[str, Any] = {"required": info.is_required()}
            if info.annotation in (int, int | None):
                kwargs["type"] = int
            elif getattr(info.annotation, "__origin__", None) is dict:  # KEY=VALUE pairs, `decision` reads them
                kwargs |= {"nargs": "+", "action": "extend"}
            elif info.annotation is bool:
                kwargs = {"action": "store_true"}
            p.add_argument(f"--{name.replace('_', '-')}", **kwargs, **cli.options.get(name, {}))
        p.add_argument("--request-id", help="makes a retried command count once")
        p.add_argument("--json", action="store_true", help="print the status after the decision as JSON")
