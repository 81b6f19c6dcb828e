"""Decisions sent from the web app and its API: built from a form or a JSON body, authored by the
person signed in (never by a name typed in), signed by the app, refused with the rules' words."""

from __future__ import annotations

from typing import Any, get_args

from pydantic import ValidationError

from bpo.api import BpoError, get_roster, send
from bpo.web.deps import Web
from bpo.web.sessions import Visitor
from bpo.web.views import member
from models.commands import BY_UPDATE, Command, GateDecision
from models.errors import describe
from models.plan import Person
from models.status import TransitionStatus

GATE_ACTIONS = tuple(command_type.update for command_type in get_args(GateDecision) if command_type.web)
"""The decisions on a gate a signed-in person may take, as the gate's page and the API name them."""
FIELDS = {command_type.update: command_type.form for command_type in get_args(GateDecision) if command_type.web}
"""What a person fills in with each decision on a gate, as each command's model declares it."""


class NotOnRoster(Exception):
    """The person signed in is not on this transition's roster."""


async def person_in(w: Web, me: Visitor, transition_id: str) -> tuple[Person, list[Person]]:
    """The roster's entry for ``me`` on a transition, and the roster; `NotOnRoster` if absent."""
    people = await get_roster(w.client, transition_id)
    found = member(people, me.email)
    if found is None:
        raise NotOnRoster(f"{me.email} is not on the roster of transition '{transition_id}'")
    return found, people


def build(kind: str, who: Person, me: Visitor, fields: dict[str, Any]) -> Command:
    """The command ``kind`` by ``who``, from the fields a person filled in, or `BpoError`."""
    command_type = BY_UPDATE.get(kind)
    if command_type is None or not command_type.web:  # keys rotate with an operator's key only
        raise BpoError(f"unknown decision '{kind}'", kind="BadInput")
    given = {k: v for k, v in fields.items() if v not in (None, "")}
    try:
        return command_type(**given, by=who.id, via=me.via, operator=me.operator)  # type: ignore[call-arg]
    except ValidationError as error:
        raise BpoError(describe(error), kind="BadInput") from None


async def decide(w: Web, transition_id: str, command: Command) -> TransitionStatus:
    """Send ``command``, signed by the app's key when it holds one; `BpoError` if refused."""
    return await send(w.client, transition_id, command, signer=w.settings.signer)
