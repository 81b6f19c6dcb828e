"""`note` through the real workflow on the time-skipping server: an update built from the registry
like every command's, and not (yet) a signal, so a history that recorded one replays as it ran."""

from __future__ import annotations

import uuid

import pytest

from bpo.api import BpoError, get_status, send, start_transition
from models.commands import Note, Pause
from tests.driver import LI


async def started(env, settings, plan) -> str:
    tid = f"t-{uuid.uuid4().hex[:8]}"
    return await start_transition(env.client, plan, task_queue=settings.task_queue, transition_id=tid)


async def test_a_note_sent_as_an_update_is_kept_in_the_decision_log(env, worker, settings, reference_plan):
    tid = await started(env, settings, reference_plan)
    await send(env.client, tid, Note(by=LI, text="cutover rehearsal booked"))
    last = (await get_status(env.client, tid)).decisions[-1]
    assert (last.kind, last.by, last.note) == ("noted", LI, "cutover rehearsal booked")
    with pytest.raises(BpoError, match="'stranger@x.example' is not on the roster"):
        await send(env.client, tid, Note(by="stranger@x.example", text="hello"))


async def test_a_note_sent_as_a_signal_is_refused_as_before(env, worker, settings, reference_plan):
    tid = await started(env, settings, reference_plan)
    await env.client.get_workflow_handle(tid).signal("note", Note(by=LI, text="by signal"))
    await send(env.client, tid, Pause(by=LI, reason="after the signal"))  # handled after the signal
    kinds = [d.kind for d in (await get_status(env.client, tid)).decisions]
    assert "paused" in kinds and "noted" not in kinds
