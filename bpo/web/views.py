"""What the pages show, read from Temporal: the inbox and the portfolio from its visibility store
(one list call each, however many transitions run), a transition and its gates from queries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import get_args

from temporalio.client import Client, WorkflowExecution

from bpo.api import BpoError
from models.constants import (
    SA_AWAITING,
    SA_CLIENT,
    SA_DUE,
    SA_HEALTH,
    SA_PHASE,
    SA_PROVIDER,
    SA_STATE,
    WORKFLOW_NAME,
    login_key,
)
from models.messages import STEADY_STATE
from models.plan import Health, Person

PORTFOLIO_ROLES = ("executive_sponsor", "program_manager")
HEALTHS: tuple[str, ...] = get_args(Health)
MAX_ROWS = 500
_SAFE = re.compile(r"^[^'\"\\\s]+$")


@dataclass(frozen=True)
class Row:
    """One transition as the visibility store knows it; ``gate`` set on an inbox row."""

    id: str
    client: str
    provider: str
    phase: str
    health: str
    state: str
    due: datetime | None
    started: datetime | None
    gate: str | None = None


def _row(wf: WorkflowExecution, gate: str | None = None) -> Row:
    sa = wf.typed_search_attributes
    return Row(
        id=wf.id,
        client=sa.get(SA_CLIENT) or "",
        provider=sa.get(SA_PROVIDER) or "",
        phase=sa.get(SA_PHASE) or "",
        health=sa.get(SA_HEALTH) or "",
        state=sa.get(SA_STATE) or "",
        due=sa.get(SA_DUE) if sa.get(SA_STATE) in ("running", "paused") and sa.get(SA_PHASE) != STEADY_STATE else None,
        started=wf.start_time,
        gate=gate,
    )


def _literal(value: str) -> str:
    if not _SAFE.match(value):
        raise BpoError(f"'{value}' cannot be looked up", kind="BadInput")
    return f"'{value}'"


async def _list(client: Client, query: str) -> list[WorkflowExecution]:
    return [wf async for wf in client.list_workflows(query, limit=MAX_ROWS)]


async def inbox(client: Client, email: str) -> list[Row]:
    """Every open gate, across running transitions, waiting on ``email``: oldest due first."""
    me = login_key(email)
    query = f"WorkflowType = '{WORKFLOW_NAME}' AND ExecutionStatus = 'Running' AND BpoAwaiting = {_literal(me)}"
    rows = []
    for wf in await _list(client, query):
        for value in wf.typed_search_attributes.get(SA_AWAITING) or []:
            if value.startswith(f"{me}#"):
                rows.append(_row(wf, value.split("#", 1)[1]))
    far = datetime.max.replace(tzinfo=None)
    return sorted(rows, key=lambda r: (r.due.replace(tzinfo=None) if r.due else far, r.started or far, r.id))


async def portfolio(client: Client, email: str, health: str | None = None, phase: str | None = None) -> list[Row]:
    """The transitions where ``email`` is an executive sponsor or program manager, filtered."""
    roles = ", ".join(_literal(f"{login_key(email)}#{role}") for role in PORTFOLIO_ROLES)
    query = f"WorkflowType = '{WORKFLOW_NAME}' AND BpoPeople IN ({roles})"
    if health:
        if health not in HEALTHS:
            raise BpoError(f"unknown health '{health}'; one of {', '.join(HEALTHS)}", kind="BadInput")
        query += f" AND BpoHealth = {_literal(health)}"
    if phase:
        query += f" AND BpoPhase = {_literal(phase)}"
    rows = [_row(wf) for wf in await _list(client, query)]
    return sorted(rows, key=lambda r: (r.state != "running", r.client, r.id))


async def sees_portfolio(client: Client, email: str) -> bool:
    """Whether ``email`` is a sponsor or program manager of any transition."""
    roles = ", ".join(_literal(f"{login_key(email)}#{role}") for role in PORTFOLIO_ROLES)
    query = f"WorkflowType = '{WORKFLOW_NAME}' AND BpoPeople IN ({roles})"
    return bool([wf async for wf in client.list_workflows(query, limit=1, page_size=1)])


def member(people: list[Person], email: str) -> Person | None:
    """The roster's entry for the person signed in as ``email``."""
    return next((p for p in people if (p.address or p.id).lower() == email), None)


async def on_a_roster(client: Client, email: str) -> bool:
    """Whether ``email`` is on the roster of a running transition."""
    query = (
        f"WorkflowType = '{WORKFLOW_NAME}' AND ExecutionStatus = 'Running' AND BpoPeople = {_literal(login_key(email))}"
    )
    return bool([wf async for wf in client.list_workflows(query, limit=1, page_size=1)])
