"""The worker: runs transitions (workflows) and their audit and notification activities.

Run it as ``bpo worker`` (or ``python worker.py``); several may run at once on one task queue.
"""

from __future__ import annotations

import asyncio
import signal
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from activities.audit import AuditActivities
from activities.notify import NotifyActivities
from bpo.client import connect
from bpo.db import make_engine
from bpo.logs import configure
from bpo.settings import Settings, get_settings
from workflows.transition import TransitionWorkflow

log = structlog.get_logger(__name__)


def build_worker(client: Client, settings: Settings, http: httpx.AsyncClient, executor: ThreadPoolExecutor) -> Worker:
    """A worker for ``settings.task_queue`` with every workflow and activity registered."""
    engine = make_engine(settings.audit_url)
    audit = AuditActivities(engine)
    notify = NotifyActivities(engine, http)
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[TransitionWorkflow],
        activities=[audit.record, notify.deliver],
        activity_executor=executor,
        graceful_shutdown_timeout=timedelta(seconds=10),
    )


async def run_worker(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM, then finish in-flight activities and stop polling."""
    client = await connect(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with ThreadPoolExecutor(max_workers=8) as executor:
        async with httpx.AsyncClient() as http:
            worker = build_worker(client, settings, http, executor)
            async with worker:
                log.info("worker_started", task_queue=settings.task_queue, address=settings.temporal_address)
                await stop.wait()
                log.info("worker_stopping")


def main() -> None:
    settings = get_settings()
    configure(settings.log_format, settings.log_level)
    asyncio.run(run_worker(settings))


if __name__ == "__main__":
    main()
