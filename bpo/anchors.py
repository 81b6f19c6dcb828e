"""The audit chain's heads a transition recorded in Temporal's history, read back for `bpo audit
--verify` without a worker: each outbox flush's answer (its local activity marker) and the head
a continued-as-new run carries in its input.

Every run still kept is read, newest first, following each run's link to the one it continued;
a run whose history the server no longer keeps (past the namespace's retention) ends the walk,
and the newest run's input still holds the head its predecessors reached. Every other run of the
id the server lists is read too, so a run started by hand after the real ones cannot hide their
heads; and a run's input counts only when the run is a continue-as-new (the workflow fails any
other start that carries a state, but its input stays in the history).

The same walk reads what else the histories say about the trail: the flushes that found another
row under one of their ids (`infra.audit.COLLISION`), the runs made by `temporal workflow reset`,
and how the newest run ended (a run that ended on its own wrote nothing after its last head).

The transition's runs are those of its workflow type (`WORKFLOW_NAME`): a run of another type
started under its id (Temporal allows it once the transition has ended) is named, never read for
heads, and never makes the transition "running".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.service import RPCError, RPCStatusCode

from infra.audit import COLLISION
from models.constants import WORKFLOW_NAME
from models.deliveries import ChainHead, Flushed
from models.messages import StartTransition

if TYPE_CHECKING:
    from collections.abc import Sequence

    from temporalio.api.history.v1 import HistoryEvent
    from temporalio.client import Client, WorkflowExecution

LOCAL_ACTIVITY_MARKER = "core_local_activity"
FLUSH_ACTIVITY = "flush_outbox"
MAX_RUNS = 10_000
"""A bound on the walk back through continued runs, against a cycle no server should produce."""


ENDED = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: "completed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: "failed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: "cancelled",
}
"""How a run ends on its own: its last flush was its last write, and its head is recorded."""
CUT_SHORT = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: "terminated",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: "timed out",
}
"""How a run is stopped from outside, perhaps in the middle of a flush."""


class NoTransition(Exception):
    """The server knows no transition by this id."""


@dataclass
class Recorded:
    """What the transition's histories say about its audit trail."""

    heads: list[ChainHead] = field(default_factory=list)
    collisions: list[str] = field(default_factory=list)
    """Why a flush could not write: a row of other content stood under one of its ids."""
    resets: list[str] = field(default_factory=list)
    """The runs made by a reset (Temporal's ``workflow reset``), each said in words."""
    deferred: str | None = None
    """Why the newest run's last flush could not write its rows (a database away, a row in the
    way): entries it holds are not yet in the table, whatever the table's tail says."""
    ended: str | None = None
    """How the newest run ended on its own (``completed``, ``failed``, ``cancelled``), or none."""
    cut_short: str | None = None
    """How the newest run was stopped from outside (``terminated``, ``timed out``), or none."""
    run_id: str | None = None
    """The transition's newest run (of its own workflow type)."""
    others: list[str] = field(default_factory=list)
    """Runs of another workflow type under the transition's id, each said in words."""


async def recorded_heads(client: Client, transition_id: str) -> list[ChainHead]:
    """Every chain head the transition recorded, over every run still kept (`read_record`)."""
    return (await read_record(client, transition_id)).heads


async def read_record(client: Client, transition_id: str) -> Recorded:
    """Every chain head the transition recorded, the flushes refused for a collision, the runs
    made by a reset, how the newest run ended, and the runs of other workflow types under its id,
    over every run still kept. Raises `NoTransition` for an id the server knows no transition by;
    any other failure to read (a server that is away) propagates, so that the caller says the
    anchor could not be checked."""
    record = Recorded()
    listed = await _listed(client, transition_id)
    newest = await _newest(client, transition_id, listed, record)
    record.run_id = newest
    walked: set[str] = set()
    run_id = newest
    for _ in range(MAX_RUNS):
        handle = client.get_workflow_handle(transition_id, run_id=run_id)
        try:
            history = await handle.fetch_history()
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            if run_id == newest:
                raise NoTransition(transition_id) from None
            break  # an earlier run past retention: the later runs' input carries its head
        if run_id == newest and history.events:  # the newest run: has it ended, and how
            last = history.events[-1].event_type
            record.ended, record.cut_short = ENDED.get(last), CUT_SHORT.get(last)
        walked.add(run_id)
        previous = await _read_run(client, run_id, history.events, record, newest=run_id == newest)
        if not previous:
            break
        run_id = previous
    for other in listed:
        if other.run_id in walked or other.workflow_type != WORKFLOW_NAME:
            continue
        history = await client.get_workflow_handle(transition_id, run_id=other.run_id).fetch_history()
        await _read_run(client, other.run_id, history.events, record)
    return record


async def _newest(client: Client, transition_id: str, listed: list[WorkflowExecution], record: Recorded) -> str:
    """The transition's newest run: the id's newest run if it is of the transition's type, else
    the newest listed one that is. Runs of other types are named in ``record.others``."""
    try:
        latest = await client.get_workflow_handle(transition_id).describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise NoTransition(transition_id) from None
        raise
    runs = {wf.run_id: wf for wf in listed}
    runs.setdefault(latest.run_id, latest)
    record.others = [_other(wf) for wf in runs.values() if wf.workflow_type != WORKFLOW_NAME]
    if latest.workflow_type == WORKFLOW_NAME:
        return latest.run_id
    own = [wf for wf in runs.values() if wf.workflow_type == WORKFLOW_NAME]
    if not own:
        raise NoTransition(transition_id)
    return max(own, key=lambda wf: wf.start_time).run_id


def _other(wf: WorkflowExecution) -> str:
    status = wf.status.name.lower().replace("_", " ") if wf.status else "unknown"
    return (
        f"run {wf.run_id} under this id is a {wf.workflow_type!r} workflow, not this transition "
        f"({status}, started {_when(wf.start_time)}): it was started outside bpo and is not read"
    )


async def _read_run(
    client: Client, run_id: str, events: Sequence[HistoryEvent], record: Recorded, newest: bool = False
) -> str | None:
    """Add one run's heads, collisions and reset to ``record`` (and, for the newest run, whether
    its last flush wrote); the run it continued, if any."""
    previous = None
    resets: list[str] = []
    for event in events:
        heads, continued, error, refused = await _head_in(client, event)
        previous = continued or previous
        if newest and (heads or error):
            record.deferred = error
        record.heads += heads
        for said in [error, *refused]:
            if said and said.startswith(COLLISION) and said not in record.collisions:
                record.collisions.append(said)
        resets += filter(None, [_reset_task(run_id, event), _copied_start(run_id, event)])
    if resets:  # the reset's own event says most: when, from which run, and why
        record.resets.append(resets[-1])
    return previous


def _reset_task(run_id: str, event: HistoryEvent) -> str | None:
    """Said of a run made by a reset, at the event that shows it: a reset starts a new run from
    a copy of an old run's history up to a point, then fails the copied workflow task with the
    reset's cause and reason."""
    if not event.HasField("workflow_task_failed_event_attributes"):
        return None
    failed = event.workflow_task_failed_event_attributes
    if failed.cause != WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW:
        return None
    return (
        f"run {run_id} was reset through Temporal at {_when(event.event_time.ToDatetime())} from run "
        f"{failed.base_run_id or '?'} (reason: {failed.failure.message or 'none given'})"
    )


def _copied_start(run_id: str, event: HistoryEvent) -> str | None:
    """Said of a run whose start is a copy of another run's: the copied start still names the
    old run as the original execution (a run's own start names itself)."""
    if not event.HasField("workflow_execution_started_event_attributes"):
        return None
    original = event.workflow_execution_started_event_attributes.original_execution_run_id
    if original and original != run_id:
        return f"run {run_id} was reset through Temporal: its start is a copy of run {original}'s"
    return None


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")


async def _listed(client: Client, transition_id: str) -> list[WorkflowExecution]:
    """Every run of ``transition_id`` the server lists, of any workflow type."""
    query = f"WorkflowId = '{transition_id.replace(chr(39), chr(39) * 2)}'"
    try:
        return [wf async for wf in client.list_workflows(query)]
    except RPCError as error:
        if error.status in (RPCStatusCode.UNIMPLEMENTED, RPCStatusCode.INVALID_ARGUMENT):
            return []  # a server without this listing (the time-skipping test server)
        raise


async def _head_in(
    client: Client, event: HistoryEvent
) -> tuple[list[ChainHead], str | None, str | None, list[str]]:
    """The chain heads one event records (a flush's: each of its writes, then the head after
    all), the run it continues (for a run's start), and, for a flush, why it could not write the
    audit and why each of its sent rows refused for a collision was refused."""
    converter = client.data_converter
    if event.HasField("workflow_execution_started_event_attributes"):
        started = event.workflow_execution_started_event_attributes
        state = None
        if started.input.payloads:
            [start] = await converter.decode(started.input.payloads, [StartTransition])
            state = start.state
        continued = started.continued_execution_run_id or None
        return ([state.audit_head] if state and continued and state.audit_head else []), continued, None, []
    if not event.HasField("marker_recorded_event_attributes"):
        return [], None, None, []
    marker = event.marker_recorded_event_attributes
    if marker.marker_name != LOCAL_ACTIVITY_MARKER or "result" not in marker.details:
        return [], None, None, []
    data = marker.details["data"].payloads
    try:  # the SDK's own record of which local activity ran: plain JSON, never encrypted
        kind = json.loads(data[0].data).get("activity_type") if data else None
    except ValueError:
        return [], None, None, []
    if kind != FLUSH_ACTIVITY or not marker.details["result"].payloads:
        return [], None, None, []
    [flushed] = await converter.decode(marker.details["result"].payloads, [Flushed])
    heads = [*flushed.writes, *([flushed.audit_head] if flushed.audit_head else [])]
    return heads, None, flushed.audit_error, flushed.collisions
