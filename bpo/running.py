"""Running a worker: the worker with every workflow and activity registered, the workflow sandbox,
the health endpoint and the run loop. `worker.py` and `bpo worker` start it; the simulator, the
benchmark and the tests build the same worker from here, so nothing imports the entry point."""

from __future__ import annotations

import asyncio
import gc
import json
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import structlog
from temporalio import workflow
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker, WorkflowRunner

from activities.audit import AuditActivities
from activities.audit_writer import AuditWriter
from activities.digests import DigestActivities
from activities.evidence import EvidenceActivities
from activities.feeds import FeedActivities
from activities.notify import NotifyActivities
from activities.outbox import OutboxActivities
from activities.programs import ProgramActivities
from bpo import visiting
from bpo.sandbox import SANDBOX
from infra.client import connect
from infra.db import make_engine
from infra.digest_schedule import ensure_digest_schedule
from infra.evidence_store import open_store
from infra.guard import guarded_client
from infra.settings import Settings, connection_secrets, deployment_connections
from infra.transport import Transport
from workflows.digests import DigestWorkflow
from workflows.transition import TransitionWorkflow

log = structlog.get_logger(__name__)


def plan_client(settings: Settings) -> httpx.AsyncClient:
    """The guarded client for requests a plan asks for. It keeps no connection open between
    requests (a feed or evidence is fetched now and then), so it holds nothing to close."""
    return guarded_client(settings.fetch_policy, keep_alive=False)


def build_worker(
    client: Client,
    settings: Settings,
    http: httpx.AsyncClient,
    executor: ThreadPoolExecutor,
    runner: WorkflowRunner | None = None,
) -> Worker:
    """A worker for ``settings.task_queue`` with every workflow and activity registered; workflows
    run in the SDK's sandbox unless a test brings its own ``runner``.

    ``http`` serves the deployment's own webhook (``BPO_WEBHOOK_URL``); every request a plan asks
    for (feeds, evidence, a webhook URL in the plan) goes through a guarded client made here from
    ``BPO_FETCH_ALLOW`` and ``BPO_ALLOWED_HOSTS``."""
    # A workflow's log line names its workflow in ``temporal_workflow``; Temporal's default also
    # appends all of it to the message, which buries the event ("decision ({'attempt': 1, ...})").
    workflow.logger.workflow_info_on_message = False
    visiting.install()  # no walks over payloads that no codec changes
    engine = make_engine(settings.audit_url)
    guarded = plan_client(settings)
    audit = AuditActivities(engine)
    connections = deployment_connections(settings)
    secrets = connection_secrets(connections)
    transport = Transport(
        settings=secrets,
        connections=connections,
        webhook=settings.webhook_url,
        mailer=settings.smtp_url,
        webhook_secret=settings.webhook_secret,
        allowed_hosts=settings.allowed_hosts,
        web_url=settings.web_url,
        link_ttl=settings.link_ttl,
        slack_token=settings.slack_bot_token,
        slack_api_url=settings.slack_api_url,
        teams_webhook=settings.teams_webhook_url,
    )
    notify = NotifyActivities(engine, http, transport, guarded)
    writer = AuditWriter(engine, settings.audit_writer_processes, settings.log_format, settings.log_level)
    writer.warm()
    outbox = OutboxActivities(notify, settings.delivery_give_up, settings.audit_mark_key(), writer)
    feeds = FeedActivities(guarded, secrets, connections, trusted=http)
    store = open_store(settings.evidence_location, settings.evidence_s3_endpoint)
    evidence = EvidenceActivities(guarded, store, settings.evidence_max_mb * 1024 * 1024, engine)
    programs = ProgramActivities(client)
    digests = DigestActivities(engine, transport, settings.mail_from)
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[TransitionWorkflow, DigestWorkflow],
        activities=[
            audit.record,
            notify.deliver,
            outbox.flush,
            feeds.pull,
            evidence.pin,
            evidence.recheck,
            programs.read,
            programs.confirm_relay,
            digests.send,
        ],
        activity_executor=executor,
        graceful_shutdown_timeout=timedelta(seconds=10),
        workflow_runner=runner or SANDBOX,
        max_cached_workflows=settings.workflow_cache,
    )


async def serve_health(port: int, worker: Worker, settings: Settings) -> asyncio.Server:
    """``GET /healthz`` on ``port``: 200 while the worker polls, 503 once it is shutting down."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readline()
        healthy = request.startswith(b"GET /healthz") and worker.is_running and not worker.is_shutdown
        body = json.dumps({"status": "ok" if healthy else "unavailable", "task_queue": settings.task_queue}).encode()
        status = b"200 OK" if healthy else b"503 Service Unavailable"
        writer.write(
            b"HTTP/1.1 "
            + status
            + b"\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\nConnection: close\r\n\r\n"
            + body
        )
        await writer.drain()
        writer.close()

    return await asyncio.start_server(answer, "0.0.0.0", port)  # noqa: S104 - probes come from outside


async def _digest_schedule(client: Client, settings: Settings) -> None:
    """Make the digest schedule if it is missing (`bpo setup` does too): a worker that cannot
    (a namespace whose schedules it may not write) says so and runs on; digests then wait for it."""
    try:
        await ensure_digest_schedule(client, settings.task_queue)
    except Exception as error:
        log.warning("digest_schedule_unmade", error=str(error) or type(error).__name__, hint="run `bpo setup`")


def runtime_for(settings: Settings) -> Runtime | None:
    """A Temporal runtime exporting the SDK's and the engine's metrics for Prometheus, if asked."""
    if not settings.metrics_port:
        return None
    bind = f"0.0.0.0:{settings.metrics_port}"
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=bind)))


def quieter_collector(threshold: int) -> None:
    """Fewer garbage collections on the worker (``BPO_WORKER_GC_THRESHOLD``; 0: Python's own):
    what is loaded at start is frozen out of every collection, and the youngest generation is
    collected every ``threshold`` allocations instead of every 700."""
    if threshold:
        gc.collect()
        gc.freeze()
        gc.set_threshold(threshold, 50, 100)


def quicker_handovers(microseconds: int) -> None:
    """How long a thread keeps the GIL while another waits (``BPO_WORKER_SWITCH_INTERVAL_US``):
    shorter than Python's 5 ms, a decision's activation and answer wait less behind a flush's
    audit write in its thread (docs/benchmarks.md, "The decision tail traced")."""
    sys.setswitchinterval(microseconds / 1_000_000)


async def run_worker(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM, then finish in-flight activities and stop polling."""
    traced: Any = None
    interceptors: list[Any] = []
    if settings.trace_file:  # the bench's traces; imported only then, so a worker without pays nothing
        try:
            from infra.tracing import start_tracing
        except ImportError:
            raise SystemExit(
                "BPO_TRACE_FILE is set, but opentelemetry-sdk is not installed: pip install '.[bench]'"
            ) from None
        interceptors, traced = start_tracing(settings.trace_file, "worker", worker=True)
    client = await connect(settings, runtime_for(settings), interceptors)
    try:
        await _serve(client, settings)
    finally:
        if traced:
            traced.shutdown()  # writes the spans still pending


async def _serve(client: Client, settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with ThreadPoolExecutor(max_workers=8) as executor:
        async with httpx.AsyncClient() as http:
            worker = build_worker(client, settings, http, executor)
            quieter_collector(settings.worker_gc_threshold)
            quicker_handovers(settings.worker_switch_interval_us)
            await _digest_schedule(client, settings)
            async with worker:
                health = await serve_health(settings.health_port, worker, settings) if settings.health_port else None
                log.info(
                    "worker_started",
                    task_queue=settings.task_queue,
                    address=settings.temporal_address,
                    metrics_port=settings.metrics_port,
                    health_port=settings.health_port,
                )
                await stop.wait()
                log.info("worker_stopping")
                if health:
                    health.close()
