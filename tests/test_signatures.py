"""Signed commands through the real workflow (in the SDK's sandbox) on the time-skipping server."""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import WorkflowUpdateFailedError

from bpo.api import first_run, send, start_transition
from models.commands import Approve
from models.signing import Signer, new_key_pair
from tests.driver import DANA, LI, Driver


async def test_a_transition_with_trusted_keys_takes_only_commands_they_signed(env, worker, settings, reference_plan):
    private, public = new_key_pair()
    signer, stranger = Signer(private), Signer(new_key_pair()[0])
    tid = await start_transition(
        env.client, reference_plan, task_queue=settings.task_queue, transition_id=f"t-{uuid.uuid4().hex[:8]}",
        trusted_keys=[public], signer=signer,
    )
    t = Driver(env, env.client, tid)
    run = await first_run(env.client, tid)
    approve = Approve(gate="gap_analysis_approved", by=LI, request_id="r-1")
    assert "not signed by a trusted key" in await t.refused(approve, "NotSigned")
    assert "not signed by a trusted key" in await t.refused(stranger.sign(tid, approve, run), "NotSigned")
    forged = signer.sign(tid, approve, run).model_copy(update={"by": DANA})
    assert "not signed by a trusted key" in await t.refused(forged, "NotSigned")
    # bpo.api.send always gives a command a request id; a caller of the SDK may not.
    without_request = signer.sign(tid, approve.model_copy(update={"request_id": None}), run)
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await env.client.get_workflow_handle(tid).execute_update("approve", without_request)
    assert "a signed command needs a request id" in str(caught.value.cause)
    status = await send(env.client, tid, approve, signer)
    assert t.gate(status, "gap_analysis_approved").status == "passed"
