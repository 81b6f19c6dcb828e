"""The digest workflow the digest schedule starts every hour: one activity sends every digest
due at the schedule's moment. Its own workflow type, so a transition's history never sees it."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from models.digests import DIGEST_WORKFLOW, DigestRun, DigestsSent

SEND_TIMEOUT = timedelta(minutes=10)
"""A run mails each person due one, one after another, each within the mailer's own timeouts."""
RETRY = RetryPolicy(initial_interval=timedelta(seconds=30), maximum_attempts=3)
"""A crashed worker's run is tried again; what a run could not send waits for the next hour."""


@workflow.defn(name=DIGEST_WORKFLOW)
class DigestWorkflow:
    """Sends the digests due now."""

    @workflow.run
    async def run(self, run: DigestRun) -> DigestsSent:
        """Send every digest due at the moment the schedule started this run."""
        # The moment is the workflow's own, so a retried activity judges the same hour as the first.
        at = run.at or workflow.now()
        sent = await workflow.execute_activity(
            "send_digests",
            DigestRun(at=at),
            result_type=DigestsSent,
            start_to_close_timeout=SEND_TIMEOUT,
            retry_policy=RETRY,
        )
        workflow.logger.info("digests_run", extra={"sent": sent.sent, "items": sent.items, "left": sent.left})
        return sent
