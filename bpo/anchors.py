"""The audit chain's heads a transition recorded in Temporal's history, read back for `bpo audit
--verify` without a worker: each outbox flush's answer (its local activity marker) and the head
a continued-as-new run carries in its input.

Every run still kept is read, newest first, following each run's link to the one it continued;
a run whose history the server no longer keeps (past the namespace's retention) ends the walk,
and the newest run's input still holds the head its predecessors reached. Every other run of the
id the server lists is read too, so a run started by hand after the real ones cannot hide their
heads; and a run's input counts only when the run is a continue-as-new (the workflow fails any
other start that carries a state, but its input stays in the history).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from temporalio.service import RPCError, RPCStatusCode

from models.deliveries import ChainHead, Flushed
from models.messages import StartTransition

if TYPE_CHECKING:
    from temporalio.api.history.v1 import HistoryEvent
    from temporalio.client import Client

LOCAL_ACTIVITY_MARKER = "core_local_activity"
FLUSH_ACTIVITY = "flush_outbox"
MAX_RUNS = 10_000
"""A bound on the walk back through continued runs, against a cycle no server should produce."""


class NoTransition(Exception):
    """The server knows no transition by this id."""


async def recorded_heads(client: Client, transition_id: str) -> list[ChainHead]:
    """Every chain head the transition recorded, over every run still kept. Raises
    `NoTransition` for an id the server does not know; any other failure to read (a server that
    is away) propagates, so that the caller says the anchor could not be checked."""
    heads: list[ChainHead] = []
    walked: set[str] = set()
    run_id: str | None = None
    for _ in range(MAX_RUNS):
        handle = client.get_workflow_handle(transition_id, run_id=run_id)
        try:
            history = await handle.fetch_history()
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            if run_id is None:
                raise NoTransition(transition_id) from None
            break  # an earlier run past retention: the later runs' input carries its head
        walked.add(run_id or (await handle.describe()).run_id)
        previous = None
        for event in history.events:
            head, continued = await _head_in(client, event)
            previous = continued or previous
            if head is not None:
                heads.append(head)
        if not previous:
            break
        run_id = previous
    for other in await _other_runs(client, transition_id, walked):
        history = await client.get_workflow_handle(transition_id, run_id=other).fetch_history()
        for event in history.events:
            head, _ = await _head_in(client, event)
            if head is not None:
                heads.append(head)
    return heads


async def _other_runs(client: Client, transition_id: str, walked: set[str]) -> list[str]:
    """The runs of ``transition_id`` the server lists besides those ``walked``."""
    query = f"WorkflowId = '{transition_id.replace(chr(39), chr(39) * 2)}'"
    try:
        return [wf.run_id async for wf in client.list_workflows(query) if wf.run_id not in walked]
    except RPCError as error:
        if error.status in (RPCStatusCode.UNIMPLEMENTED, RPCStatusCode.INVALID_ARGUMENT):
            return []  # a server without this listing (the time-skipping test server)
        raise


async def _head_in(client: Client, event: HistoryEvent) -> tuple[ChainHead | None, str | None]:
    """The chain head one event records, if any, and the run it continues (for a run's start)."""
    converter = client.data_converter
    if event.HasField("workflow_execution_started_event_attributes"):
        started = event.workflow_execution_started_event_attributes
        state = None
        if started.input.payloads:
            [start] = await converter.decode(started.input.payloads, [StartTransition])
            state = start.state
        continued = started.continued_execution_run_id or None
        return (state.audit_head if state and continued else None), continued
    if not event.HasField("marker_recorded_event_attributes"):
        return None, None
    marker = event.marker_recorded_event_attributes
    if marker.marker_name != LOCAL_ACTIVITY_MARKER or "result" not in marker.details:
        return None, None
    data = marker.details["data"].payloads
    try:  # the SDK's own record of which local activity ran: plain JSON, never encrypted
        kind = json.loads(data[0].data).get("activity_type") if data else None
    except ValueError:
        return None, None
    if kind != FLUSH_ACTIVITY or not marker.details["result"].payloads:
        return None, None
    [flushed] = await converter.decode(marker.details["result"].payloads, [Flushed])
    return flushed.audit_head, None
