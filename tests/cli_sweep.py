"""The cases of the bad-input sweep of `bpo` (tests/test_cli_sweep.py), built from the parser
itself: every subcommand, each of its arguments given something wrong in turn, the rest given
something right. A command added to the parser is swept without touching this module; an
argument whose right value cannot be guessed from its name is named in `GOOD`."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from starter import build_parser

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "examples" / "reference-plan.yaml"
DANA = "dana@acme.example"

GOOD: dict[str, str] = {
    "id": "t1",
    "gate": "slas_signed",
    "item": "runbooks_signed",
    "text": "the vendor confirmed",
    "plan": str(REFERENCE),
    "shell": "bash",
    "readings": "csat=90",
    "by": DANA,
    "person": DANA,
    "to": "li@acme.example",
    "owner": DANA,
    "add": DANA,
    "remove": DANA,
    "quarter": "2027-Q2",
    "until": "2027-02-01",
    "due": "2027-02-01",
    "since": "2027-01-01",
    "period": "2027-W09",
    "decide_at": "50%",
    "scores": "quality=4",
    "evidence": "https://example.com/minutes.pdf",
    "ui_origin": "http://localhost:8233",
    "codec_endpoint": "http://localhost:8081",
    "host_name": "codec.example",
    "ip": "127.0.0.1",
    "host": "127.0.0.1",
    "amount": "1250.00",
    "category": "travel",
}
"""A right value for an argument, by its ``dest``; others take their first choice, a number, or
a word."""

@dataclass(frozen=True)
class Case:
    """One run of `bpo`: ``argv``, what is wrong in it (``what``, for the test's id), and words
    one of which the refusal must hold to name the mistake (empty: any sentence will do)."""

    command: str
    argv: tuple[str, ...]
    what: str
    names: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.command}:{self.what}"


def subcommands(parser: argparse.ArgumentParser | None = None) -> dict[str, argparse.ArgumentParser]:
    """Every subcommand of `bpo` and its parser."""
    parser = parser or build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _good(action: argparse.Action, out: Path) -> str:
    if action.dest in ("out", "file"):
        return str(out / f"{action.dest}.txt") if action.dest == "out" else str(ROOT / "tests" / "plans" / "x.csv")
    if action.choices:
        return str(next(iter(action.choices)))
    if action.type is int:
        return "1"
    return GOOD.get(action.dest, "word")


def _flag(action: argparse.Action) -> str:
    return next(s for s in action.option_strings if s.startswith("--"))


def _bad_values(action: argparse.Action, missing: Path) -> list[tuple[str, str]]:
    """(what, value) pairs that are wrong for ``action``."""
    bad = [("empty", ""), ("control-character", "bad\x07value")]
    if action.type is int:
        bad = [("not-a-number", "ten"), ("negative", "-5"), ("too-big", "99999999999")]
    elif action.choices:
        bad = [("unknown-choice", "nope")]
    elif action.dest in ("plan", "file"):
        bad += [("missing-file", str(missing))]
    elif action.dest in ("until", "due", "since"):
        bad += [("malformed-date", "2027-13-45"), ("not-a-date", "soon")]
    elif action.dest == "quarter":
        bad += [("malformed-quarter", "2027-Q9")]
    elif action.dest == "decide_at":
        bad += [("not-a-share", "half")]
    elif action.dest in ("port", "ui_port", "web_port"):
        bad += [("out-of-range", "70000")]
    elif action.dest in ("readings", "scores"):
        bad += [("not-a-number", "csat=ninety"), ("not-a-pair", "csat")]
    elif action.dest == "id":
        bad += [("too-long", "t" * 5000), ("unknown", "no-such-transition")]
    return bad


def _names(action: argparse.Action) -> tuple[str, ...]:
    """Words that name ``action`` in a refusal."""
    if action.option_strings:
        return (*action.option_strings, action.dest.replace("_", "-"))
    return (action.dest.upper(), str(action.metavar or action.dest).upper())


EXTRA: dict[str, dict[str, str]] = {
    "raid": {"--kind": "risk", "--title": "Vendor late", "--owner": DANA, "--by": DANA},
    "kpi": {"--period": "2027-W09"},
    "roster": {"--add": "sam@acme.example", "--name": "Sam", "--role": "sme"},
    "delegate": {"--to": "li@acme.example", "--until": "2027-02-01"},
}
"""Options a command needs that argparse does not know it needs (they depend on one another)."""

ALONE = {"--file"}
"""Options given without a command's `EXTRA` and repeated positionals: they replace them."""


def _quoted(value: str) -> tuple[str, ...]:
    """A wrong value a refusal may name by quoting it (a missing file's path)."""
    return (value,) if len(value) >= 4 and value.isprintable() else ()


def cases(out: Path) -> list[Case]:
    """Every (subcommand, wrong argument) of the parser, with the rest right."""
    missing = out / "nowhere.yaml"
    found: list[Case] = []
    for name, parser in subcommands().items():
        actions = [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]
        positional = [a for a in actions if not a.option_strings]
        required = [a for a in actions if a.option_strings and a.required]
        optional = [a for a in actions if a.option_strings and not a.required and a.nargs != 0]

        def argv(wrong: argparse.Action | None = None, value: str = "", keep: argparse.Action | None = None) -> list[str]:
            alone = keep is not None and _flag(keep) in ALONE
            words = [name]
            for a in positional:
                if a is not wrong and (a.nargs == "?" or (alone and a.nargs == "*")):
                    continue
                words.append(value if a is wrong else _good(a, out))
            options = {} if alone else dict(EXTRA.get(name, {}))
            for a in [*required, *([keep] if keep else [])]:
                options[_flag(a)] = value if a is wrong else _good(a, out)
            for flag, given in options.items():
                words += [flag, given]
            return words

        for a in positional:
            for what, value in _bad_values(a, missing):
                # a KEY=VALUE may be refused by its key (csat: 'ninety' is not a number)
                named = (*_names(a), value.partition("=")[0]) if "=" in value else _names(a)
                found.append(Case(name, tuple(argv(a, value)), f"{a.dest}={what}", (*named, *_quoted(value))))
        for a in optional:
            for what, value in _bad_values(a, missing):
                found.append(Case(name, tuple(argv(a, value, a)), f"{_flag(a)}={what}", (*_names(a), *_quoted(value))))
        for a in required:
            for what, value in _bad_values(a, missing):
                found.append(Case(name, tuple(argv(a, value)), f"{_flag(a)}={what}", (*_names(a), *_quoted(value))))
        found.append(Case(name, (*argv(), "--no-such-option"), "unknown-option", ("--no-such-option",)))
    return found
