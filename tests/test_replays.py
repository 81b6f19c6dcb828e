"""Signed commands bound to their run family and their time, through the real workflow on the
time-skipping server: a recorded command replayed on a new run of the same id, or sent as an
update outside its window, is refused; sent as a signal, a late one counts once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from bpo.api import first_run, get_status, send, start_transition
from models.commands import Cancel, Pause, Resume
from models.signing import Signer, new_key_pair
from models.status import TransitionStatus
from tests.driver import LI

SIGNER = Signer(new_key_pair()[0])


async def start(env, settings, plan, tid: str, replace_ended: bool = False) -> str:
    return await start_transition(
        env.client, plan, task_queue=settings.task_queue, transition_id=tid, trusted_keys=[SIGNER.public_key],
        signer=SIGNER, signed_at=await env.get_current_time(),
        replace_ended=replace_ended,
    )


async def refusal(env, tid: str, command) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await env.client.get_workflow_handle(tid).execute_update(command.update, command, result_type=TransitionStatus)
    return f"{caught.value.cause.type}: {caught.value.cause}"


async def until(env, tid: str, holds, tries: int = 50) -> TransitionStatus:
    for _ in range(tries):
        status = await get_status(env.client, tid)
        if holds(status):
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"never came to pass; last status: {status.state} {status.pause_reason}")


async def recorded_then_ended(env, settings, plan) -> tuple[str, str, Pause]:
    """A transition that recorded a signed pause and was then cancelled: its id, its run family
    and the recorded command, as Temporal's history and the audit row keep it."""
    tid = await start(env, settings, plan, f"t-{uuid.uuid4().hex[:8]}")
    family = await first_run(env.client, tid)
    recorded = SIGNER.sign(tid, Pause(by=LI, reason="audit", request_id="recorded-pause"), family)
    await env.client.get_workflow_handle(tid).execute_update("pause", recorded, result_type=TransitionStatus)
    await send(env.client, tid, Cancel(by=LI, reason="over"), SIGNER)
    await env.client.get_workflow_handle(tid).result()
    return tid, family, recorded


async def test_a_recorded_command_replayed_on_a_new_run_of_the_same_id_is_refused(env, worker, settings, reference_plan):
    tid, old_run, recorded = await recorded_then_ended(env, settings, reference_plan)

    await start(env, settings, reference_plan, tid, replace_ended=True)
    assert await first_run(env.client, tid) != old_run
    assert "NotSigned: the pause command is not signed by a trusted key" in await refusal(env, tid, recorded)
    await env.client.get_workflow_handle(tid).signal("pause", recorded)  # refused when processed
    await send(env.client, tid, Pause(by=LI, reason="signed for this run"), SIGNER)
    assert (await get_status(env.client, tid)).pause_reason == "signed for this run"


async def test_an_update_signed_outside_the_window_is_refused_and_as_a_signal_counts_once(
    env, worker, settings, reference_plan
):
    tid = await start(env, settings, reference_plan, f"t-{uuid.uuid4().hex[:8]}")
    run = await first_run(env.client, tid)
    late_at = await env.get_current_time() - timedelta(minutes=20)
    late = SIGNER.sign(tid, Pause(by=LI, reason="late", request_id="late-pause"), run, late_at)
    assert "Stale: the pause command was signed at" in await refusal(env, tid, late)
    assert (await get_status(env.client, tid)).state == "running"

    handle = env.client.get_workflow_handle(tid)
    await handle.signal("pause", late)  # a signal may come late: checked for a repeat only
    await until(env, tid, lambda s: s.pause_reason == "late")
    await send(env.client, tid, Resume(by=LI), SIGNER)
    await handle.signal("pause", late)  # the same signal again: a repeat, nothing applied
    second = SIGNER.sign(tid, Pause(by=LI, reason="second", request_id="second-pause"), run, late_at)
    await handle.signal("pause", second)  # applies only if the repeat did not pause it again
    await until(env, tid, lambda s: s.pause_reason == "second")


async def test_a_start_carrying_a_state_made_by_hand_fails_and_replays_nothing(env, worker, settings, reference_plan):
    # Whoever reaches Temporal's port builds a state with the transition's own keys, run family and
    # no request remembered, starts a new run with it, and replays what was recorded: refused.
    from temporalio.client import WorkflowFailureError
    from temporalio.common import WorkflowIDReusePolicy

    from models.constants import WORKFLOW_NAME
    from models.messages import StartTransition
    from workflows.rules import Machine, every_change

    tid, family, _ = await recorded_then_ended(env, settings, reference_plan)
    forged = Machine.start(
        reference_plan, tid, await env.get_current_time(), every_change, [SIGNER.public_key], family[:8], family
    ).state
    handle = await env.client.start_workflow(
        WORKFLOW_NAME,
        StartTransition(id=tid, plan=reference_plan, state=forged),
        id=tid,
        task_queue=settings.task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    )
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    assert "only ever its own continue-as-new" in str(failed.value.cause)


async def test_a_recorded_signed_start_sent_again_later_on_the_ended_id_fails_and_writes_nothing(
    env, worker, settings, reference_plan
):
    from temporalio.client import WorkflowFailureError
    from temporalio.common import WorkflowIDReusePolicy

    from models.constants import WORKFLOW_NAME
    from models.messages import StartTransition

    tid, _, _ = await recorded_then_ended(env, settings, reference_plan)
    history = await env.client.get_workflow_handle(tid).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    [recorded] = await env.client.data_converter.decode(started.input.payloads, [StartTransition])
    assert recorded.signature and recorded.state is None  # the signed start, as Temporal keeps it
    await env.sleep(timedelta(hours=1))
    handle = await env.client.start_workflow(
        WORKFLOW_NAME, recorded, id=tid, task_queue=settings.task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    )
    with pytest.raises(WorkflowFailureError) as failed:
        await asyncio.wait_for(handle.result(), 60)  # before: the old start ran again, and on
    assert "a start must be signed within 10 minutes of it" in str(failed.value.cause)
    await start(env, settings, reference_plan, tid, replace_ended=True)  # a start signed now runs
    assert (await get_status(env.client, tid)).state == "running"
