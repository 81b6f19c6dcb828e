"""Audit entries with no notice among them linger for others (the start's ``audit_linger``,
``BPO_AUDIT_LINGER_MS``): a transition's burst of readings makes one flush, not one each, while a
reader of the trail (`bpo audit`, the web app's pages) has what waits written at once
(`workflows.pump.Flusher`, the change ``audit-lingers-2026-12``)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from sqlmodel import Session
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from bpo.api import audit_settled, get_deliveries, send, start_transition
from bpo.sandbox import SANDBOX
from infra.audit import read_trail
from infra.db import make_engine
from models.commands import Approve, Note
from models.constants import AUDIT_WRITTEN_UPDATE
from tests.conftest import running_worker
from tests.stack import DANA, LI
from tests.test_flush_yields import _flushes
from workflows.search import SA_AWAITING
from workflows.transition import TransitionWorkflow

HOLD = timedelta(milliseconds=500)


async def _written(dev, tid: str) -> None:
    """Wait, without asking the transition to hurry, until nothing it accepted waits."""
    for _ in range(300):
        if not (await get_deliveries(dev.client, tid)).unwritten:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the audit entries were never written")


def _update_name(event) -> str | None:
    if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
        return None
    return event.workflow_execution_update_accepted_event_attributes.accepted_request.input.name


def _notes(settings, tid: str) -> list[str]:
    with Session(make_engine(settings.audit_url)) as session:
        return [r.detail["note"] for r in read_trail(tid, session=session) if r.kind == "noted"]


async def _started(dev, settings, plan, linger: timedelta) -> str:
    tid = f"t-{uuid.uuid4().hex[:12]}"
    await start_transition(
        dev.client, plan, task_queue=settings.task_queue, transition_id=tid, flush_after=HOLD, audit_linger=linger
    )
    await _written(dev, tid)  # the start's entries go with its notices (the plan's approvers asked)
    return tid


async def test_notes_in_a_burst_share_one_flush_and_are_written_when_the_linger_ends(dev, settings, reference_plan):
    async with running_worker(dev, settings):
        tid = await _started(dev, settings, reference_plan, timedelta(seconds=6))
        before = len(_flushes((await dev.client.get_workflow_handle(tid).fetch_history()).events))
        await send(dev.client, tid, Note(text="first", by=LI, request_id="first"))
        await asyncio.sleep(3 * HOLD.total_seconds())  # past the hold, well inside the linger
        assert (await get_deliveries(dev.client, tid)).unwritten == 1
        assert _notes(settings, tid) == []
        await send(dev.client, tid, Note(text="second", by=LI, request_id="second"))
        await _written(dev, tid)
        history = await dev.client.get_workflow_handle(tid).fetch_history()
    assert _notes(settings, tid) == ["first", "second"]
    assert len(_flushes(history.events)) == before + 1, "both notes went in one flush"
    replayer = Replayer(workflows=[TransitionWorkflow], data_converter=pydantic_data_converter, workflow_runner=SANDBOX)
    await replayer.replay_workflow(history)


async def test_a_reader_of_the_trail_has_lingering_entries_written_at_once(dev, settings, reference_plan):
    async with running_worker(dev, settings):
        tid = await _started(dev, settings, reference_plan, timedelta(seconds=60))
        await send(dev.client, tid, Note(text="read me", by=LI, request_id="read-me"))
        await asyncio.sleep(3 * HOLD.total_seconds())
        assert (await get_deliveries(dev.client, tid)).unwritten == 1
        # What `bpo audit` and the web app's pages ask first: well before the minute is up.
        assert await audit_settled(dev.client, tid, 30) == 0
        history = await dev.client.get_workflow_handle(tid).fetch_history()
    assert _notes(settings, tid) == ["read me"]
    asked = [_update_name(e) for e in history.events]
    assert asked.count(AUDIT_WRITTEN_UPDATE) == 1, "the reader waited on one update, and polled nothing"
    signalled = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED]
    assert signalled == []
    replayer = Replayer(workflows=[TransitionWorkflow], data_converter=pydantic_data_converter, workflow_runner=SANDBOX)
    await replayer.replay_workflow(history)


async def test_an_approval_that_changes_who_is_awaited_does_not_linger(dev, settings, reference_plan):
    # The inbox reads who is awaited from the search attributes, which wait with the flush: an
    # approver who signed is off it at once, however long entries alone may linger.
    async with running_worker(dev, settings):
        tid = await _started(dev, settings, reference_plan, timedelta(seconds=60))
        handle = dev.client.get_workflow_handle(tid)

        async def awaited() -> list[str]:
            return list((await handle.describe()).typed_search_attributes.get(SA_AWAITING) or [])

        before = await awaited()
        await send(dev.client, tid, Approve(gate="slas_signed", by=DANA, request_id="dana-slas"))
        for _ in range(300):
            if await awaited() != before:
                break
            await asyncio.sleep(0.1)
        after = await awaited()
        assert after and set(after) < set(before), "Dana, who signed, is no longer awaited"
        assert (await get_deliveries(dev.client, tid)).unwritten == 0


async def test_a_reader_of_the_trail_cuts_a_held_flush_short(dev, settings, reference_plan):
    # A decision's flush is held a moment (the start's flush_after) for the decisions after it; a
    # reader asking meanwhile had it wait out the hold's timer, and a workflow task of its own.
    # Now the flush goes in the task that takes the reader's update (`flush-hurried-2026-12`).
    tid = f"t-{uuid.uuid4().hex[:12]}"
    hold = timedelta(seconds=5)
    async with running_worker(dev, settings):
        await start_transition(dev.client, reference_plan, task_queue=settings.task_queue, transition_id=tid,
                               flush_after=hold)  # fmt: skip
        await _written(dev, tid)
        await send(dev.client, tid, Note(text="read me", by=LI, request_id="read-me"))
        began = asyncio.get_running_loop().time()
        assert await audit_settled(dev.client, tid, 30) == 0
        waited = asyncio.get_running_loop().time() - began
        events = list((await dev.client.get_workflow_handle(tid).fetch_history()).events)
    assert _notes(settings, tid) == ["read me"]
    assert waited < hold.total_seconds(), f"the reader waited {waited:.1f} s, the hold's whole time"
    asked = next(i for i, e in enumerate(events) if _update_name(e) == AUDIT_WRITTEN_UPDATE)
    task = max(i for i in range(asked) if events[i].event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
    after = [
        i for i in range(task, len(events)) if events[i].event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED
    ]
    assert task < _flushes(events)[-1] < min(after, default=len(events)), "the flush went with the reader's task"
    assert not [e for e in events if e.event_type == EventType.EVENT_TYPE_TIMER_FIRED], "no hold timer fired"
    replayer = Replayer(workflows=[TransitionWorkflow], data_converter=pydantic_data_converter, workflow_runner=SANDBOX)
    await replayer.replay_workflow(WorkflowHistory(tid, events))


async def test_a_reader_with_nothing_waiting_adds_nothing_to_the_history(dev, settings, reference_plan):
    # Every transition page asks; a page read over and over must not grow the run's history.
    async with running_worker(dev, settings):
        tid = await _started(dev, settings, reference_plan, timedelta(seconds=60))
        handle = dev.client.get_workflow_handle(tid)
        before = len((await handle.fetch_history()).events)
        for _ in range(3):
            assert await audit_settled(dev.client, tid, 10) == 0
        after = (await handle.fetch_history()).events
    assert len(after) == before


async def test_a_reader_adds_nothing_to_the_history_while_what_waits_can_only_go_at_the_next_try(
    dev, settings, reference_plan
):
    # A row put by hand under the next entry's id makes each flush's write fail (an audit database
    # away does the same): what waits goes only at the next try, seconds later. A reader asking
    # meanwhile is refused, leaving nothing in the history; it once added an update each second.
    from tests.test_audit_collisions import forge_next

    async with running_worker(dev, settings):
        tid = await _started(dev, settings, reference_plan, timedelta(seconds=60))
        forge_next(settings.audit_url, tid)
        await send(dev.client, tid, Note(text="stalled", by=LI, request_id="stalled"))
        assert await audit_settled(dev.client, tid, 10) == 1, "the flush the reader hurried failed"
        before = list((await dev.client.get_workflow_handle(tid).fetch_history()).events)
        assert await audit_settled(dev.client, tid, 3) == 1
        after = list((await dev.client.get_workflow_handle(tid).fetch_history()).events)
    new = after[len(before) :]
    asked = [e for e in new if _update_name(e) == AUDIT_WRITTEN_UPDATE]
    assert len(asked) <= len(_flushes(new)), "each reader's update that stayed in the history ran a flush"
