"""The worker's sandbox passes every module through, but still refuses what breaks a replay.

Passed through, a name bound when a module is imported is the real one; reached through a module
while a workflow runs (``datetime.datetime.now()``, ``time.time()``), the clock is refused. The
replay corpus is what catches the rest (tests/test_replay.py).

It is the SDK's sandbox with its snippets compiled once and the payloads' contexts asked directly
(`bpo.sandbox`); an SDK whose private instance changed shape gets the SDK's own runner instead.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, _runner

from bpo import sandbox
from bpo.sandbox import SANDBOX, CompiledSandboxRunner


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


@workflow.defn(name="SleepsAndEchoes")
class SleepsAndEchoes:
    @workflow.run
    async def run(self, words: list[str]) -> list[str]:
        for _ in range(5):
            await workflow.sleep(timedelta(minutes=1))
        return words


async def test_a_workflow_in_the_compiled_sandbox_runs_its_tasks_without_compiling_again(env):
    assert isinstance(SANDBOX, CompiledSandboxRunner), "the pinned SDK's instance no longer fits bpo.sandbox"
    queue = f"sandbox-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=queue, workflows=[SleepsAndEchoes], workflow_runner=SANDBOX):
        first = await env.client.execute_workflow(SleepsAndEchoes.run, ["a"], id=f"{queue}-1", task_queue=queue)
        compiled = sandbox._compiled.cache_info()
        second = await env.client.execute_workflow(SleepsAndEchoes.run, ["b"], id=f"{queue}-2", task_queue=queue)
        again = sandbox._compiled.cache_info()
    assert (first, second) == (["a"], ["b"])  # payloads in and out, through the contexts asked directly
    assert again.misses == compiled.misses, "a second workflow of the same class compiled its snippets again"
    assert again.hits >= compiled.hits + 6  # its six tasks ran through the compiled snippets


def test_an_sdk_whose_sandboxed_instance_changed_shape_gets_the_sdks_own_runner(monkeypatch):
    class Reshaped:  # a release that renamed what bpo.sandbox overrides
        def __init__(self, details: object) -> None: ...

    monkeypatch.setattr(_runner, "_Instance", Reshaped)
    runner = sandbox.sandbox_runner()
    assert type(runner) is SandboxedWorkflowRunner
    assert runner.restrictions is sandbox.RESTRICTIONS
