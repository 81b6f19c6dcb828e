"""The workflow's side of KPI feeds and pinned evidence: the activities that look at the world.

`Feeder` starts a pull (an activity) for each source the rules say is due and gives the result
back to them; `pin` fetches an approval's evidence before the approval is counted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from models.evidence import PinRequest, PinResult
    from models.feeds import FeedPull, FeedResult
    from workflows.rules import Machine

PULL_TIMEOUT = timedelta(minutes=5)
PIN_TIMEOUT = timedelta(minutes=2)
ONE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_attempts=2)
"""A crashed worker's activity is tried once more; a source that is down is the rules' to retry,
with their own growing pauses, carried across runs."""


class Feeder:
    """Runs the pulls the rules ask for, one at a time per source."""

    def __init__(self, machine: Machine, woke: Callable[[], None]) -> None:
        self.machine = machine
        self.woke = woke
        self.pulling: set[str] = set()
        self.closing = False
        """The run is about to continue as new: no pull starts, the new run starts it."""

    def _ready(self) -> list[FeedPull]:
        return self.machine.take_pulls(workflow.now(), self.pulling)

    async def run(self) -> None:
        """Start every pull that is due, for as long as the transition runs."""
        while True:
            await workflow.wait_condition(lambda: not self.closing and bool(self._ready()))
            for asked in self._ready():
                self.pulling.add(asked.source.name)
                self.machine.pull_started(asked.source.name)
                asyncio.create_task(self._pull(asked))

    async def settled(self) -> None:
        """Start no more pulls and wait for those under way to be kept, so none outlives the run."""
        self.closing = True
        await workflow.wait_condition(lambda: not self.pulling)

    async def _pull(self, asked: FeedPull) -> None:
        try:
            result = await workflow.execute_activity(
                "pull_feed",
                asked,
                result_type=FeedResult,
                start_to_close_timeout=PULL_TIMEOUT,
                retry_policy=ONE_RETRY,
            )
        except ActivityError as error:
            cause = type(error.cause).__name__ if error.cause else "ActivityError"
            result = FeedResult(source=asked.source.name, unreachable=f"the pull failed on the worker ({cause})")
        finally:
            self.pulling.discard(asked.source.name)
        self.machine.feed_pulled(asked, result, workflow.now())
        self.woke()


async def pin(transition_id: str, gate: str, evidence: str) -> PinResult:
    """Fetch, hash and keep an approval's evidence; a failure of the activity is a problem told."""
    try:
        return await workflow.execute_activity(
            "pin_evidence",
            PinRequest(transition_id=transition_id, gate=gate, evidence=evidence),
            result_type=PinResult,
            start_to_close_timeout=PIN_TIMEOUT,
            retry_policy=ONE_RETRY,
        )
    except ActivityError as error:
        cause = type(error.cause).__name__ if error.cause else "ActivityError"
        return PinResult(problem=f"the evidence could not be fetched on the worker ({cause})")
