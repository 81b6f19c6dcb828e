"""A decision that reaches a transition as its held flush falls due is answered at once, not after
the flush: the two share a workflow task, and a local activity holds its task's answers until it
returns (`workflows.pump.Flusher`, the change ``flush-yields-2026-12``)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from sqlmodel import Session
from temporalio.api.enums.v1 import EventType

from bpo.api import audit_settled, send, start_transition
from infra.audit import read_trail
from infra.db import make_engine
from models.commands import Note
from tests.conftest import running_worker
from tests.stack import LI

HOLD = timedelta(milliseconds=500)


def _flushes(events) -> list[int]:
    return [
        i
        for i, e in enumerate(events)
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and e.marker_recorded_event_attributes.marker_name == "core_local_activity"
    ]


async def test_a_decision_that_comes_as_the_held_flush_falls_due_is_answered_before_the_flush(
    dev, settings, reference_plan
):
    tid = f"t-{uuid.uuid4().hex[:12]}"
    async with running_worker(dev, settings):
        await start_transition(
            dev.client, reference_plan, task_queue=settings.task_queue, transition_id=tid, flush_after=HOLD
        )
        await send(dev.client, tid, Note(text="first", by=LI, request_id="first"))
    # No worker while the flush's wait ends; the second decision then waits at the server beside
    # the fired timer, and the next worker is given both in one workflow task.
    await asyncio.sleep(2 * HOLD.total_seconds())
    second = asyncio.create_task(send(dev.client, tid, Note(text="second", by=LI, request_id="second")))
    await asyncio.sleep(1)
    async with running_worker(dev, settings):
        await asyncio.wait_for(second, 30)
        assert await audit_settled(dev.client, tid, 30) == 0
        events = list((await dev.client.get_workflow_handle(tid).fetch_history()).events)

    names = {
        e.workflow_execution_update_accepted_event_attributes.protocol_instance_id: (
            e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        )
        for e in events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    }
    answered = max(  # the second note's answer (the reader's own update comes after the flush)
        i
        for i, e in enumerate(events)
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED
        and names[e.workflow_execution_update_completed_event_attributes.meta.update_id] == Note.update
    )
    task = max(i for i in range(answered) if events[i].event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
    fired = [i for i in range(task) if events[i].event_type == EventType.EVENT_TYPE_TIMER_FIRED]
    assert fired and fired[-1] > max(_flushes(events[:task]) or [0]), "the flush's wait ended with the decision"
    # The task that answered it ran no flush (a local activity's marker is recorded with its task's
    # other commands): the flush came in a task after it, having waited once more.
    starts = (EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED)
    end = next((i for i in range(answered, len(events)) if events[i].event_type in starts), len(events))
    assert not [i for i in _flushes(events) if task < i < end]
    assert [i for i in _flushes(events) if i > end]
    with Session(make_engine(settings.audit_url)) as session:
        notes = [r.detail.get("note") for r in read_trail(tid, session=session) if r.kind == "noted"]
    assert notes == ["first", "second"]
