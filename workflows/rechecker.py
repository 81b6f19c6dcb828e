"""The workflow's side of the daily check of pinned evidence: `Rechecker` runs the check (an
activity) when the rules say it is due and gives the verdicts back to them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows.feeder import ONE_RETRY

with workflow.unsafe.imports_passed_through():
    from models.evidence import RecheckRequest, RecheckResult
    from workflows.rules import Machine

RECHECK_TIMEOUT = timedelta(minutes=5)
"""Every source is fetched at once within its own total deadline (`infra.fetching`), so
five minutes covers a day's check with room for a slow evidence store."""


class Rechecker:
    """Runs the daily check of pinned evidence, one at a time."""

    def __init__(self, machine: Machine, woke: Callable[[], None]) -> None:
        self.machine = machine
        self.woke = woke
        self.checking = False
        """Whether a check is under way: a run waits for it before it ends or continues as new,
        so the check's verdicts are kept (and no activity outlives its run)."""

    def _due(self) -> RecheckRequest | None:
        return self.machine.take_recheck(workflow.now())

    async def run(self) -> None:
        """Check the pinned evidence whenever it falls due, for as long as the transition runs."""
        while True:
            await workflow.wait_condition(lambda: self._due() is not None)
            asked = self._due()
            assert asked is not None
            self.machine.recheck_started(workflow.now())
            self.checking = True
            try:
                result = await workflow.execute_activity(
                    "recheck_evidence",
                    asked,
                    result_type=RecheckResult,
                    start_to_close_timeout=RECHECK_TIMEOUT,
                    retry_policy=ONE_RETRY,
                )
            except ActivityError as error:  # a worker that failed it: tomorrow's check tries again
                cause = type(error.cause).__name__ if error.cause else "ActivityError"
                workflow.logger.warning("evidence_recheck_failed", extra={"cause": cause})
                self.checking = False
                self.woke()
                continue
            self.machine.evidence_rechecked(asked, result, workflow.now())
            self.checking = False
            self.woke()

    async def settled(self) -> None:
        """Wait for the check under way, if any, to be kept."""
        await workflow.wait_condition(lambda: not self.checking)
