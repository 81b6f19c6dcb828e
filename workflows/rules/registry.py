"""The rules half of the command registry: each command's check and what applying it changes.

`models.commands` declares each command's model and update name; this table says, once per
command, which rule allows it (`check`, over a read-only view) and which carries it out
(`apply`). `Machine` dispatches through it, so a new command is an entry here, not a branch in
two ``match`` statements; `tests/test_registry.py` holds the table against `Command`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from models.commands import (
    BY_UPDATE,
    Amend,
    Approve,
    Cancel,
    ChangeRoster,
    Command,
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
from models.evidence import EvidencePin
from workflows.rules import amendments, checks, costs, decisions, deliveries, feeds, keys, notes, raid
from workflows.rules.clock import View
from workflows.rules.outbox import Recorder
from workflows.rules.refusals import RefusalKind, Refused

C = TypeVar("C", bound=Command)
Check = Callable[[View, C, datetime | None], None]
"""Refuse the command with a `Refused` if the rules do not allow it at a moment (None: any)."""
Apply = Callable[[Recorder, C, datetime, EvidencePin | None], None]
"""Carry the command out at a moment, given an approval's pinned evidence (if any)."""


@dataclass(frozen=True)
class Rule(Generic[C]):
    """One command's entry: its model, the check that allows it and what applying it changes."""

    command: type[C]
    check: Check[C]
    apply: Apply[C]


def _unpinned(apply: Callable[[Recorder, C, datetime], None]) -> Apply[C]:
    """An apply that takes no evidence: every command's but an approval's."""
    return lambda m, command, now, pin: apply(m, command, now)


# An `amendment_N` gate is the plan's, not a phase's: approving or rejecting it is an amendment's
# decision, whatever the phase holds (`amendments.is_amendment`, the one test of the name).


def _check_approve_or_reject(v: View, command: Approve | Reject, now: datetime | None) -> None:
    if amendments.is_amendment(command.gate):
        checks.check_amendment_decision(v, command, now)
    else:
        checks.check_gate_decision(v, command, now)


def _approve(m: Recorder, command: Approve, now: datetime, pin: EvidencePin | None) -> None:
    if amendments.is_amendment(command.gate):
        amendments.decide(m, command, now)
    else:
        decisions.approve(m, command, now, pin)


def _reject(m: Recorder, command: Reject, now: datetime) -> None:
    if amendments.is_amendment(command.gate):
        amendments.decide(m, command, now)
    else:
        decisions.reject(m, command, now)


RULES: tuple[Rule[Any], ...] = (
    Rule(Approve, _check_approve_or_reject, _approve),
    Rule(Tick, checks.check_gate_decision, _unpinned(decisions.on_gate)),
    Rule(Reject, _check_approve_or_reject, _unpinned(_reject)),
    Rule(Waive, checks.check_gate_decision, _unpinned(decisions.waive)),
    Rule(Pause, checks.check_pause, _unpinned(decisions.pause)),
    Rule(Resume, checks.check_resume, _unpinned(decisions.resume)),
    Rule(Cancel, checks.check_cancel, _unpinned(decisions.cancel)),
    Rule(ChangeRoster, checks.check_change_roster, _unpinned(decisions.change_roster)),
    Rule(Escalate, checks.check_escalate, _unpinned(decisions.escalate)),
    Rule(RecordReadings, checks.check_readings, _unpinned(decisions.record_readings)),
    Rule(ReadingsBatch, checks.check_batch, _unpinned(decisions.record_batch)),
    Rule(Delegate, checks.check_delegate, _unpinned(decisions.delegate)),
    Rule(RetryNotices, checks.check_retry_notices, _unpinned(deliveries.retry_failed)),
    Rule(RaidAdd, checks.check_raid_add, _unpinned(raid.add)),
    Rule(RaidClose, checks.check_raid_close, _unpinned(raid.close)),
    Rule(Amend, checks.check_amend, _unpinned(amendments.propose)),
    Rule(PullFeed, checks.check_pull_feed, _unpinned(feeds.pull_now)),
    Rule(TrustKeys, checks.check_trust_keys, _unpinned(keys.rotate)),
    Rule(Score, checks.check_gate_decision, _unpinned(decisions.on_gate)),
    Rule(Note, notes.check, _unpinned(notes.add)),
    Rule(RecordCost, costs.check, _unpinned(costs.add)),
)
"""Every command's rules, in the order of `models.commands.COMMANDS`."""

BY_COMMAND: dict[type[Command], Rule[Any]] = {rule.command: rule for rule in RULES}


def check(v: View, command: Command, now: datetime | None = None) -> None:
    """Refuse ``command`` with a `Refused` if the rules do not allow it at ``now`` (delegations
    in force count only when a moment is given); a transition that trusts keys first asks for
    a signature."""
    if v.state.trusted_keys:
        checks.check_signed(v, command)
    BY_COMMAND[type(command)].check(v, command, now)


def apply(m: Recorder, command: Command, now: datetime, pin: EvidencePin | None = None) -> None:
    """Carry out ``command``, already checked; ``pin`` is an approval's evidence as fetched."""
    BY_COMMAND[type(command)].apply(m, command, now, pin)


def signal_command(name: str) -> type[Command]:
    """The command a signal called ``name`` carries, or a `Refused` that says what to do instead:
    a command taken only as an update (`bpo note`, `bpo score`) is sent as one."""
    found = BY_UPDATE.get(name)
    if found is not None and found.signal:
        return found
    if found is not None:
        raise Refused(
            f"'{name}' is not taken as a signal; send it as an update (bpo {name})", RefusalKind.UNKNOWN_COMMAND
        )
    signals = [update for update, command_type in BY_UPDATE.items() if command_type.signal]
    raise Refused(f"no command is called '{name}'; commands: {', '.join(signals)}", RefusalKind.UNKNOWN_COMMAND)
