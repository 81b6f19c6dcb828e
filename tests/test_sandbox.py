"""The worker's sandbox passes every module through, but still refuses what breaks a replay.

Passed through, a name bound when a module is imported is the real one; reached through a module
while a workflow runs (``datetime.datetime.now()``, ``time.time()``), the clock is refused. The
replay corpus is what catches the rest (tests/test_replay.py)."""

from __future__ import annotations

import asyncio
import uuid

from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.worker import Worker

from bpo.running import SANDBOX


@workflow.defn(name="ReadsTheClock")
class ReadsTheClock:
    @workflow.run
    async def run(self) -> str:
        import datetime

        return datetime.datetime.now().isoformat()  # noqa: DTZ005 - the mistake the sandbox must catch


async def test_a_workflow_that_reads_the_wall_clock_fails_its_task_instead_of_running(env):
    queue = f"sandbox-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=queue, workflows=[ReadsTheClock], workflow_runner=SANDBOX):
        handle = await env.client.start_workflow(ReadsTheClock.run, id=queue, task_queue=queue)
        failure = None
        for _ in range(100):
            async for event in handle.fetch_history_events():
                if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                    failure = event.workflow_task_failed_event_attributes.failure.message
            if failure:
                break
            await asyncio.sleep(0.1)
        await handle.terminate("seen")
    assert failure and "Cannot access datetime.datetime.now" in failure
