"""The Temporal Schedule that sends the digests: every hour on the hour it starts the digest
workflow (`workflows.digests`) on the deployment's task queue. `bpo setup` and each worker at its
start make it if it is missing; making it again changes nothing."""

from __future__ import annotations

from datetime import timedelta

import structlog
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)

from models.constants import TASK_QUEUE
from models.digests import DIGEST_SCHEDULE, DIGEST_WORKFLOW, DigestRun

log = structlog.get_logger(__name__)


def schedule_id(task_queue: str) -> str:
    """The schedule's id: one per task queue, so deployments sharing a namespace each have theirs."""
    return DIGEST_SCHEDULE if task_queue == TASK_QUEUE else f"{DIGEST_SCHEDULE}-{task_queue}"


def digest_schedule(task_queue: str) -> Schedule:
    """Every hour on the hour; a run still going when the next is due makes the next one skip
    (it would send the same digests), and runs missed while the cluster was away are not made
    up one by one: the next run sends everything due by then."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            DIGEST_WORKFLOW, DigestRun(), id=f"{schedule_id(task_queue)}-run", task_queue=task_queue
        ),
        spec=ScheduleSpec(cron_expressions=["0 * * * *"]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(minutes=59)),
    )


async def ensure_digest_schedule(client: Client, task_queue: str) -> bool:
    """Make the digest schedule for ``task_queue`` if it is missing; True when it was made."""
    try:
        await client.create_schedule(schedule_id(task_queue), digest_schedule(task_queue))
    except ScheduleAlreadyRunningError:
        return False
    log.info("digest_schedule_created", schedule=schedule_id(task_queue), task_queue=task_queue)
    return True
