"""What the web app offers a person besides a gate's decisions: each command they may send now,
and at what (an item to close, a person whose entry or delegation to change, an amendment to
decide), asked of the rules ahead of time as `awaiting.options` asks them for gates.

Each probe is a command of the person's own, run through the command's check in
`workflows.rules.registry` (never the signature check: the web app signs what it sends). A probe
the rules would refuse only for what the form asks for (a plan that changes nothing yet, a feed
with nothing due until a period is named) still offers the form.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import get_args

from pydantic import ValidationError

from models.commands import (
    COMMANDS,
    Amend,
    Approve,
    ChangeRoster,
    Command,
    Decided,
    Delegate,
    GateDecision,
    RaidAdd,
    RaidClose,
    RecordCost,
    Reject,
)
from workflows.rules.clock import View
from workflows.rules.refusals import RefusalKind, Refused
from workflows.rules.registry import BY_COMMAND

ASKS_FOR_MORE = (RefusalKind.NO_CHANGE, RefusalKind.NOTHING_TO_PULL)
"""Refusals of a probe that say only what the person's own form must supply."""

Probes = Iterator[tuple[str, Command]]
"""(what the command is aimed at, "" for the transition itself; the probe) pairs."""


def office_commands() -> tuple[type[Command], ...]:
    """The commands a person signed in to the web app sends from a transition's page: every
    command a person on the roster takes (`Decided`) that the web app may send, but a gate's
    decisions (the gate's page has those); amendments are decided here too."""
    gates = set(get_args(GateDecision))
    return tuple(c for c in COMMANDS if c.web and issubclass(c, Decided) and c not in gates)


def offered(v: View, person_id: str, now: datetime | None = None) -> dict[str, list[str]]:
    """For each command of `office_commands` (and each amendment's approval or rejection) that
    ``person_id`` may send now, what they may aim it at; a command they may not send is absent."""
    if not any(p.id == person_id for p in v.state.people):
        return {}
    found: dict[str, list[str]] = {}
    for command_type in office_commands():
        probe = PROBES.get(command_type, _plain)
        targets = [target for target, command in probe(v, person_id, command_type) if _allows(v, command, now)]
        if targets:
            found[command_type.update] = list(dict.fromkeys(targets))
    for decision in (Approve, Reject):  # an amendment_N gate is the plan's, decided from the page
        targets = [target for target, command in _amendments(v, person_id, decision) if _allows(v, command, now)]
        if targets:
            found[decision.update] = targets
    return found


def _allows(v: View, probe: Command, now: datetime | None) -> bool:
    try:
        BY_COMMAND[type(probe)].check(v, probe, now)
    except Refused as refusal:
        return refusal.kind in ASKS_FOR_MORE
    return True


def _plain(v: View, person_id: str, command_type: type[Command]) -> Probes:
    """A command aimed at the transition: its required words filled with a placeholder."""
    required = {n: "-" for n, f in command_type.model_fields.items() if f.is_required() and n != "by"}
    try:
        yield "", command_type(by=person_id, **required)  # type: ignore[call-arg]
    except ValidationError:  # a required field that is not words: the command needs a probe of its own
        return


def _raid_add(v: View, person_id: str, command_type: type[Command]) -> Probes:
    yield "", RaidAdd(by=person_id, kind="risk", title="-", owner=person_id)


def _raid_close(v: View, person_id: str, command_type: type[Command]) -> Probes:
    for item in v.state.raid:
        if item.closed_at is None:
            yield item.id, RaidClose(by=person_id, item=item.id, note="-")


def _roster(v: View, person_id: str, command_type: type[Command]) -> Probes:
    for person in v.state.people:  # their entry given again unchanged: touches every role it holds
        yield person.id, ChangeRoster(by=person_id, add=[person])


def _delegate(v: View, person_id: str, command_type: type[Command]) -> Probes:
    for person in v.state.people:
        other = next((p.id for p in v.state.people if p.id != person.id), None)
        if other is not None:
            yield person.id, Delegate(by=person_id, person=person.id, to=other, until=date.max)


def _cost(v: View, person_id: str, command_type: type[Command]) -> Probes:
    yield "", RecordCost(by=person_id, amount=Decimal(1), category="other", note="-")


def _amend(v: View, person_id: str, command_type: type[Command]) -> Probes:
    yield "", Amend(by=person_id, plan=v.plan, reason="-")  # refused only as changing nothing


def _amendments(v: View, person_id: str, decision: type[Approve] | type[Reject]) -> Probes:
    for amendment in v.state.amendments:
        if amendment.status == "proposed":
            gate = f"amendment_{amendment.number}"
            yield gate, decision(by=person_id, gate=gate, **({"reason": "-"} if decision is Reject else {}))


PROBES: dict[type[Command], Callable[[View, str, type[Command]], Probes]] = {
    RaidAdd: _raid_add,
    RaidClose: _raid_close,
    ChangeRoster: _roster,
    Delegate: _delegate,
    Amend: _amend,
    RecordCost: _cost,
}
"""The commands whose probe needs more than placeholder words; any other gets `_plain`'s."""
