"""What a program and its workstreams tell each other through Temporal, and what each keeps.

A workstream is a transition of its own, started by its program as a child workflow that
outlives it (`workflows.program`); it knows its program by a `ProgramLink`, reports where it
stands by a `WorkstreamReport` signal, and takes the program's pause, resume, cancel, roster and
key changes as a `Relayed` signal carrying the program's signed command.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import Field

from models.base import Message
from models.commands import Cancel, ChangeRoster, Pause, Resume, TrustKeys
from models.plan_words import Health

REPORT_SIGNAL = "workstream_report"
"""The signal a workstream sends its program each time where it stands changes."""
RELAY_SIGNAL = "program_relay"
"""The signal a program sends each running workstream with a command meant for all of them."""
RELAYED = tuple(c.update for c in (Pause, Resume, Cancel, ChangeRoster, TrustKeys))
"""The updates of the commands a program relays to its running workstreams."""
RELAY_SLACK = timedelta(minutes=10)
"""How long before a workstream's start a relayed command may have been signed: a command the
program took while the start was under way (a signature is fresh for ten minutes)."""
RELAYS_QUERY = "relayed_to"
"""The query a workstream's activity asks its program before taking a relay: whether the program
relayed that command to that workstream (`RelayAsk`, `RelayAnswer`)."""
RELAYS_KEPT = timedelta(days=30)
"""How long a program keeps the record of a relay it sent: far longer than a workstream takes to
confirm one, even across an outage of every worker."""
MAX_RELAYS_KEPT = 500
"""The most relays a program keeps the record of; a workstream asking about one forgotten early
is refused (never wrongly taken): the program's sponsor sends the command again."""

StreamState = Literal["waiting", "starting", "running", "paused", "completed", "cancelled", "blocked"]


class ProgramLink(Message):
    """In a workstream: whose it is. Relayed commands are signed for the program's id and run
    family, so the workstream checks them against these."""

    program: str
    key: str
    program_run: str | None = None
    """The program's first run id, which its commands' signatures cover."""
    since: datetime | None = None
    """When the program started it: a relayed command signed well before (`RELAY_SLACK`) was
    already in the plan it started with, or was never meant for it."""


class WorkstreamReport(Message):
    """Where a workstream stands, as it tells its program: the newest ``seq`` wins."""

    key: str
    seq: int = Field(ge=1)
    state: Literal["running", "paused", "completed", "cancelled"]
    phase: str
    passed: list[str] = []
    """Every phase it has passed (once passed, a phase stays passed for ``after`` and gates)."""
    health: Health = "on_track"
    next_due: datetime | None = None
    waiting_for: list[str] = Field(default=[], max_length=50)


class WorkstreamRead(Message):
    """The program asks Temporal where one of its workstreams stands (`activities.programs`)."""

    program: str
    key: str
    seq: int


class Workstream(Message):
    """A program's record of one workstream: whether it started, and its latest report."""

    key: str
    state: StreamState = "waiting"
    seq: int = 0
    phase: str | None = None
    passed: list[str] = []
    health: Health = "on_track"
    next_due: datetime | None = None
    waiting_for: list[str] = []
    started_at: datetime | None = None
    ended_at: datetime | None = None
    blocked: str | None = None
    """Why it can never start: a workstream it waits for was cancelled, or its start failed."""
    held_by: str | None = None
    """The workstream whose end blocked it: if an amendment drops that dependency, it may start."""


class Relayed(Message):
    """A command of the program, sent on to a workstream as it was signed."""

    update: str
    command: dict[str, Any]
    to: list[str] = []
    """The workstreams it goes to, as they stood when the program applied it."""


class SentRelay(Message):
    """In a program: a command it relayed (by `relay_key`) and the workstreams it went to, which is
    what a workstream confirms a relay against before it takes it."""

    key: str
    to: list[str]
    at: datetime


class RelayAsk(Message):
    """A workstream asks its program (the one it was started by, never one a signal names) whether
    the program relayed command ``key`` to it (`activities.programs`)."""

    program: str
    program_run: str | None = None
    """The program's run family as the workstream knows it: the program it asks must be that one."""
    workstream: str
    key: str


class RelayAnswer(Message):
    """Whether the program relayed the command asked about to the workstream, and if not, why."""

    confirmed: bool
    reason: str | None = None


def relay_key(relay: Relayed) -> str:
    """What names a relayed command for its confirmation: its update and request id (a signed
    command always has one, covered by its signature), or a digest of every field if it has none."""
    rid = relay.command.get("request_id")
    if isinstance(rid, str) and rid:
        return f"{relay.update}:{rid}"
    canonical = json.dumps(relay.command, sort_keys=True, separators=(",", ":"), default=str)
    return f"{relay.update}:sha256:{hashlib.sha256(canonical.encode()).hexdigest()}"


def relayed(update: str, command: Any, to: list[str] | None = None) -> Relayed:
    """``command`` (a model of `models.commands`) as a relay carries it: every field as sent."""
    return Relayed(update=update, command=command.model_dump(mode="json", exclude_unset=False), to=to or [])
