"""What a transition publishes of itself for search (`bpo list`, the web app's inbox, the Web
UI): its search attributes' values, and the upserts that set them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from temporalio.common import SearchAttributeUpdate

from workflows.rules import Machine, awaiting
from workflows.search import SA_AWAITING, SA_DUE, SA_HEALTH, SA_PEOPLE, SA_PHASE, SA_STATE


def search_values(machine: Machine, now: datetime, awaited: bool) -> tuple[Any, ...]:
    """Phase, health and state; with ``awaited`` (`approval-requests-2026-11`), also who is
    awaited on which gate, the next due time (to the minute) and the people awaited."""
    current: tuple[Any, ...] = (machine.phase_key, machine.health(), machine.state.state)
    if awaited:
        due = awaiting.next_due(machine, now)
        current += (
            awaiting.search_values(machine, now),
            due.replace(second=0, microsecond=0) if due else None,
            awaiting.people_values(machine),
        )
    return current


def upserts(current: tuple[Any, ...]) -> list[SearchAttributeUpdate[Any]]:
    """The upserts that set the search attributes to ``current`` (`search_values`)."""
    updates: list[SearchAttributeUpdate[Any]] = [
        SA_PHASE.value_set(current[0]),
        SA_HEALTH.value_set(current[1]),
        SA_STATE.value_set(current[2]),
    ]
    if len(current) > 3:
        updates += [SA_AWAITING.value_set(current[3]), SA_PEOPLE.value_set(current[5])]
        if current[4]:  # kept once set: the time-skipping server cannot read an unset Datetime
            updates.append(SA_DUE.value_set(current[4]))
    return updates
