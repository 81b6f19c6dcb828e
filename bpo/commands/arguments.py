"""What every `bpo` argument is checked for before a command runs: the types argparse applies
(ports, listening addresses, URLs) and the checks `main` makes of whatever a person typed
(nothing empty, no control characters, a transition id in the form ids take, a folder to write
``--out`` into). A refusal names the argument and exits 2, before any server is asked anything."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field, TypeAdapter, ValidationError

from bpo.commands.common import Exit
from models.constants import TRANSITION_ID
from models.errors import describe

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
"""Control characters a typed value may not hold: a newline or a tab may be in a note."""


def _plain(text: str) -> str:
    if found := CONTROL.search(text):
        raise ValueError(f"holds the control character {found.group()!r}; type plain text")
    return text


Typed = TypeAdapter(Annotated[str, Field(min_length=1), AfterValidator(_plain)])
"""Any value typed on the command line: something, and plain text."""


def port(text: str) -> int:
    """An argparse type: a TCP port, 1 to 65535."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text[:40]}' is not a port number (1 to 65535)") from None
    if not 1 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{number} is not a port number (1 to 65535)")
    return number


def address(text: str) -> str:
    """An argparse type: an address to listen on or a host name (127.0.0.1, 0.0.0.0, ::1, codec.example)."""
    if not re.fullmatch(r"[A-Za-z0-9._:\[\]-]{1,253}", text):
        raise argparse.ArgumentTypeError(f"'{text[:40]}' is not an address or host name (127.0.0.1, 0.0.0.0)")
    return text


def url(text: str) -> str:
    """An argparse type: an http(s) address (http://localhost:8233)."""
    if not re.fullmatch(r"https?://[^\s\x00-\x1f/?#]+(/[^\s\x00-\x1f]*)?", text):
        raise argparse.ArgumentTypeError(f"'{text[:60]}' is not an http(s) address (http://localhost:8233)")
    return text


def flags_of(parser: argparse.ArgumentParser, command: str) -> dict[str, str]:
    """How ``command``'s arguments are named to a person, by their ``dest``: ``--from`` for
    ``person``, ``ID`` for a positional ``id``."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    named = {}
    for action in sub.choices[command]._actions:
        if action.option_strings:
            named[action.dest] = next((s for s in action.option_strings if s.startswith("--")), action.option_strings[0])
        else:
            named[action.dest] = str(action.metavar or action.dest).upper()
    return named


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse (exit 2) a typed value that no command takes: an empty one, one with a control
    character, a transition id not in the form ids take, an ``--out`` that is a folder or whose folder is not there."""
    named = flags_of(parser, args.command)
    for dest, name in named.items():
        given = getattr(args, dest, None)
        for value in given if isinstance(given, list) else [given]:
            if not isinstance(value, str):
                continue
            try:
                Typed.validate_python(value)
            except ValidationError as exc:
                raise Exit(f"{name}: {describe(exc, show_input=False)}") from None
            if dest == "id" and not re.fullmatch(TRANSITION_ID, value):
                raise Exit(
                    f"{name}: '{value[:80]}' is not a transition id: use letters, digits, '.', '_', ':' or '-', "
                    "at most 200 characters (a workstream's: PROGRAM/KEY)"
                )
            if dest == "out" and Path(value).is_dir():
                raise Exit(f"{name}: {value} is a folder; name a file to write in it, such as {Path(value) / 'out.csv'}")
            if dest == "out" and not Path(value).parent.is_dir():
                raise Exit(f"{name}: there is no folder {Path(value).parent} to write {Path(value).name} in")


def only_with(args: argparse.Namespace, mode: str, given: bool, *dests: str) -> None:
    """Refuse options that belong to ``mode`` (``--retry``, ``rotate``) when it is not asked for:
    given alone they would be passed over in silence."""
    if given:
        return
    stray = [d for d in dests if getattr(args, d, None) not in (None, False, [])]
    if stray:
        names = ", ".join("ID" if d == "id" else f"--{d.replace('_', '-')}" for d in stray)
        raise Exit(f"{names} only go{'es' if len(stray) == 1 else ''} with {mode}")
