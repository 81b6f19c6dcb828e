"""The yardstick: a minimal workflow written straight on the SDK, with updates and a timer.

It takes the same number of updates as a compact transition and keeps one timer, and answers
each update with a small model, so the difference to the transition workflow is the engine's
own cost: its rules, its status answers, its audit trail and notifications.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow


class BareInput(BaseModel):
    updates: int


class BareStep(BaseModel):
    by: str
    value: float = 0.0


class BareStatus(BaseModel):
    count: int


@workflow.defn(name="Bare")
class BareWorkflow:
    @workflow.init
    def __init__(self, start: BareInput) -> None:
        self.count = 0
        self.expected = start.updates

    @workflow.run
    async def run(self, start: BareInput) -> BareStatus:
        timer = asyncio.create_task(workflow.sleep(timedelta(days=1)))
        await workflow.wait_condition(lambda: self.count >= self.expected)
        timer.cancel()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return BareStatus(count=self.count)

    @workflow.update
    def step(self, step: BareStep) -> BareStatus:
        self.count += 1
        return BareStatus(count=self.count)

    @step.validator
    def _step_ok(self, step: BareStep) -> None:
        if not step.by:
            raise ValueError("by is required")

    @workflow.query
    def status(self) -> BareStatus:
        return BareStatus(count=self.count)
