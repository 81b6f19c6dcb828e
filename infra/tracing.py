"""The bench's traces: OpenTelemetry spans, one JSON object a line, appended to a file.

Only the bench turns it on (``python -m bench.run --trace FILE``, which gives the worker
``BPO_TRACE_FILE``); a worker without that setting never imports this module, so production
pays nothing for it. It needs ``opentelemetry-sdk`` (the test and bench extras).

What is traced, in the client and in the worker alike:

- the SDK's own `TracingInterceptor`: the client's update and query calls with their real
  durations, each activity (the outbox flush included, a local activity) with its real duration,
  and the workflow's handlers as spans without duration, stamped with the workflow task's time;
- spans of our own, since the SDK's workflow spans have no duration: how long each update and
  query handler ran on the worker (``handler:NAME``), and each garbage collection of the worker
  (``gc``), which pauses the loop that answers decisions, and each time that loop was late by
  more than 2 ms for a 1 ms sleep (``loop stall``: something held it, or held the GIL).

Spans are matched to decisions by workflow id and time (`bench/trace.py`), not by parentage: the
flush of one transition that slows another's decision is the point of the exercise.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import opentelemetry.trace
import temporalio.client
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from temporalio import workflow
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.worker import (
    HandleQueryInput,
    HandleUpdateInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

TRACER = "bpo"


class JsonLinesExporter(SpanExporter):
    """Appends each span as one JSON object a line; each batch in one write, so the client's and
    the worker's lines never cut into each other in the one file (``O_APPEND``)."""

    def __init__(self, path: Path, process: str) -> None:
        self.path = path
        self.process = process

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Write the batch; a span without a context (never made by the SDK) is skipped."""
        lines = [json.dumps(self._row(s), default=str) + "\n" for s in spans if s.context]
        with self.path.open("a") as out:
            out.write("".join(lines))
        return SpanExportResult.SUCCESS

    def _row(self, span: ReadableSpan) -> dict[str, Any]:
        assert span.context  # filtered by export
        return {
            "name": span.name,
            "process": self.process,
            "trace": f"{span.context.trace_id:032x}",
            "span": f"{span.context.span_id:016x}",
            "parent": f"{span.parent.span_id:016x}" if span.parent else None,
            "start_ns": span.start_time,
            "end_ns": span.end_time,
            "attributes": dict(span.attributes or {}),
        }

    def shutdown(self) -> None:
        """Nothing held open: each batch opens the file."""


class _HandlerSpans(WorkflowInboundInterceptor):
    """Times the update and query handlers on the worker's clock (outside the sandbox's rules:
    a span is no workflow state, and nothing of it goes into the history)."""

    async def handle_query(self, input: HandleQueryInput) -> Any:
        began = _now()
        try:
            return await super().handle_query(input)
        finally:
            _span(f"handler:{input.query}", began, {"temporalWorkflowID": workflow.info().workflow_id})

    async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
        began = _now()
        try:
            return await super().handle_update_handler(input)
        finally:
            if not workflow.unsafe.is_replaying():  # a replayed handler answers nobody
                _span(f"handler:{input.update}", began, {"temporalWorkflowID": workflow.info().workflow_id})


def _now() -> int:
    with workflow.unsafe.sandbox_unrestricted():
        return time.time_ns()


def _span(name: str, began: int, attributes: dict[str, Any]) -> None:
    with workflow.unsafe.sandbox_unrestricted():
        span = opentelemetry.trace.get_tracer(TRACER).start_span(name, attributes=attributes, start_time=began)
        span.end(end_time=time.time_ns())


class HandlerSpans(temporalio.client.Interceptor, Interceptor):
    """The worker's interceptor for `_HandlerSpans`; a client's too, which passes it to the
    worker built on it (and does nothing itself)."""

    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput) -> type[WorkflowInboundInterceptor]:
        """Every workflow's handlers are timed."""
        return _HandlerSpans


def _collections() -> None:
    """A span per garbage collection of this process, with its generation."""
    began: list[int] = []
    tracer = opentelemetry.trace.get_tracer(TRACER)

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            began[:] = [time.time_ns()]
        elif began:
            attributes = {"generation": info.get("generation", -1), "collected": info.get("collected", 0)}
            tracer.start_span("gc", attributes=attributes, start_time=began[0]).end(end_time=time.time_ns())

    gc.callbacks.append(on_gc)


STALL_NS = 2_000_000
_watch: set[asyncio.Task[None]] = set()


async def _stalls() -> None:
    """A span each time the loop came back from a 1 ms sleep more than ``STALL_NS`` late."""
    tracer = opentelemetry.trace.get_tracer(TRACER)
    while True:
        began = time.time_ns()
        await asyncio.sleep(0.001)
        late = time.time_ns() - began - 1_000_000
        if late > STALL_NS:
            tracer.start_span("loop stall", start_time=began + 1_000_000).end(end_time=time.time_ns())


def start_tracing(path: Path, process: str, *, worker: bool = False) -> tuple[list[Any], TracerProvider]:
    """Spans of this process to ``path``: the interceptors to give the client (a worker built on
    it takes them too), and the provider to shut down at the end, which writes what is pending.
    A worker's (``worker``) is called on its running loop, which it watches.
    The batches go out from the processor's own thread, off the loop that answers decisions."""
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(JsonLinesExporter(path, process), schedule_delay_millis=1000))
    opentelemetry.trace.set_tracer_provider(provider)
    interceptors: list[Any] = [TracingInterceptor(always_create_workflow_spans=True)]
    if worker:
        interceptors.append(HandlerSpans())
        _collections()
        _watch.add(asyncio.get_running_loop().create_task(_stalls()))
    return interceptors, provider
