"""`make bench`'s program measures. ``program``: a program of 12 workstreams driven to steady state
on the dev server, with the events each workstream's history and the program's take, and the
decision round trip on a workstream against the same decision on a plain transition of the same
plan. ``programs``: a thousand programs of five workstreams open at once on one worker, with the
time to open them, the worker's and the server's memory, and the decision round trip among them."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

import yaml
from temporalio.api.enums.v1 import EventType, TimeoutType, WorkflowTaskFailedCause
from temporalio.client import Client

from bench.script import cpu_seconds, gather_limited, pct, percentiles, rss_mb, settle
from bpo.api import get_status, send, start_transition
from models.commands import Approve, RecordReadings, Tick
from models.plan import Plan
from models.plan_loader import parse_plan
from models.workstreams import workstream_plan

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "program-plan.yaml"
LI, DANA, EVE = "li@acme.example", "dana@acme.example", "eve@acme.example"
GOOD = {"csat": 91.0, "aht": 6.5}


def program_of(size: int) -> Plan:
    """The example program widened to ``size`` workstreams, each carrying one scope item; the
    second half each waits for one of the first half to pass its pilot."""
    data = yaml.safe_load(EXAMPLE.read_text())
    keys = [f"w{n:02d}" for n in range(1, size + 1)]
    data["scope"] = [{"key": f"s_{k}", "name": f"Queue {k}", "monthly_volume": 1000, "fte": 2} for k in keys]
    data["workstreams"] = [
        {"key": k, "name": f"Queue {k}", "scope": [f"s_{k}"]}
        | ({"after": {keys[n - size // 2]: "pilot"}} if n >= size // 2 else {})
        for n, k in enumerate(keys)
    ]
    return parse_plan(yaml.safe_dump(data), env={}).plan


async def until(c: Client, tid: str, holds: Any, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        status = await get_status(c, tid)
        if holds(status) or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.2)


async def round_trips(c: Client, tid: str, samples: int) -> list[float]:
    """Readings (always a valid decision) and the status that shows each, in milliseconds."""
    times = []
    for i in range(samples):
        began = time.perf_counter()
        await send(c, tid, RecordReadings(period=f"L{i}", values={"csat": 90.0}, by=LI))
        await get_status(c, tid)
        times.append((time.perf_counter() - began) * 1000)
    return times


async def history_events(c: Client, tid: str) -> int:
    """The events of every run of ``tid`` (its first run to its newest)."""
    described = await c.get_workflow_handle(tid).describe()
    run_id = described.raw_description.workflow_execution_info.first_run_id or described.run_id
    events = 0
    while run_id:
        history = await c.get_workflow_handle(tid, run_id=run_id).fetch_history()
        events += len(history.events)
        run_id = history.events[-1].workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    return events


async def measure(c: Client, task_queue: str, size: int, samples: int) -> dict[str, Any]:
    """The program measure's figures (see the module's docstring)."""
    plan = program_of(size)
    pid = await start_transition(c, plan, task_queue=task_queue, transition_id=f"bench-program-{size}")
    plain = await start_transition(c, workstream_plan(plan, "w01"), task_queue=task_queue, transition_id="bench-plain")
    began = time.perf_counter()
    await send(c, pid, Approve(gate="contract_signed", by=DANA))
    first = [w.key for w in plan.workstreams if not w.after]
    await until(c, pid, lambda s: all(w.state == "running" for w in s.workstreams if w.key in first))
    on_stream = await round_trips(c, f"{pid}/w01", samples)
    on_plain = await round_trips(c, plain, samples)

    async def drive(key: str) -> None:
        tid = f"{pid}/{key}"
        await until(c, pid, lambda s: next(w for w in s.workstreams if w.key == key).state == "running", 300)
        await send(c, tid, Tick(gate="process_maps", item=f"s_{key}", by=EVE))
        for period in ("P1", "P2"):
            await send(c, tid, RecordReadings(period=period, values=GOOD, by=LI))
        await send(c, tid, Approve(gate="hypercare_exit", by=DANA))

    await asyncio.gather(*(drive(w.key) for w in plan.workstreams))
    status = await until(c, pid, lambda s: s.phase == "steady_state", 300)
    seconds = time.perf_counter() - began
    per_stream = [await history_events(c, f"{pid}/{w.key}") for w in plan.workstreams]
    return {
        "workstreams": size,
        "reached_steady_state": status.phase == "steady_state",
        "seconds_to_steady_state": round(seconds, 1),
        "program_events": await history_events(c, pid),
        "workstream_events_max": max(per_stream),
        "workstream_events_mean": round(sum(per_stream) / len(per_stream), 1),
        "workstream_p50_ms": round(pct(on_stream, 50), 2),
        "workstream_p95_ms": round(pct(on_stream, 95), 2),
        "plain_p50_ms": round(pct(on_plain, 50), 2),
        "plain_p95_ms": round(pct(on_plain, 95), 2),
    }


# --- programs at scale ----------------------------------------------------------------------

GATE = "kt_signed_off"
"""The approval each workstream's knowledge transfer waits on beside its checklist."""


def open_program(size: int) -> Plan:
    """The example program with ``size`` workstreams that all start together, each one's knowledge
    transfer waiting on its checklist and on an executive's approval: approving a workstream leaves
    it open (its checklist still waits), so every workflow stays open while decisions are measured."""
    data = yaml.safe_load(EXAMPLE.read_text())
    keys = [f"w{n}" for n in range(1, size + 1)]
    data["scope"] = [{"key": f"s_{k}", "name": f"Queue {k}", "monthly_volume": 1000, "fte": 2} for k in keys]
    data["workstreams"] = [{"key": k, "name": f"Queue {k}", "scope": [f"s_{k}"]} for k in keys]
    approval = {"key": GATE, "kind": "approval", "approvers": {"roles": ["executive_sponsor"]}}
    data["workstream_phases"][0]["gates"].append(approval)
    return parse_plan(yaml.safe_dump(data), env={}).plan


async def open_programs(c: Client, plan: Plan, ids: list[str], limit: int, stall: float, **start: Any) -> list[str]:
    """Start every program of ``ids`` and sign its contract, ``limit`` at a time; then read their
    statuses until each one's workstreams all run and wait on ``GATE``, or until none has opened for
    ``stall`` seconds (a start that is stuck). The programs that never opened, none when all did."""

    async def one(pid: str) -> None:
        await start_transition(c, plan, **start, transition_id=pid)
        await send(c, pid, Approve(gate="contract_signed", by=DANA, request_id=f"open-{pid}"))

    def opened(status: Any) -> bool:
        streams = status.workstreams
        return len(streams) == len(plan.workstreams) and all(
            w.state == "running" and GATE in w.waiting_for for w in streams
        )

    await gather_limited([lambda pid=pid: one(pid) for pid in ids], limit)
    pending, progress_at = list(ids), time.monotonic()
    while pending and time.monotonic() - progress_at < stall:
        # A status is a query the worker answers, replaying a program it no longer holds: reading a
        # few at a time leaves the worker to the starts.
        statuses = await gather_limited([lambda pid=pid: get_status(c, pid) for pid in pending], 10)
        still = [pid for pid, status in zip(pending, statuses, strict=True) if not opened(status)]
        if len(still) < len(pending):
            progress_at = time.monotonic()
        pending = still
        if pending:
            await asyncio.sleep(1)
    return pending


async def failed_tasks(c: Client, tid: str) -> list[str]:
    """The workflow tasks of ``tid``'s current run that timed out or failed, each with its cause
    (``scale-3/w2: WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND``): a timeout means the worker fell
    behind; an unhandled command, a signal that arrived while the task completed, is Temporal's own
    retry and harmless."""
    history = await c.get_workflow_handle(tid).fetch_history()
    causes = []
    for e in history.events:
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
            causes.append(TimeoutType.Name(e.workflow_task_timed_out_event_attributes.timeout_type))
        elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            causes.append(WorkflowTaskFailedCause.Name(e.workflow_task_failed_event_attributes.cause))
    return [f"{tid}: {cause}" for cause in causes]


async def at_scale(
    c: Client,
    *,
    worker: int,
    server: int,
    programs: int,
    size: int,
    samples: int,
    limit: int,
    stall: float = 180,
    **start: Any,
) -> dict[str, Any]:
    """``programs`` programs of ``size`` workstreams open on the worker of pid ``worker``; then
    ``samples`` decisions on workstreams picked at random among them (an approval of ``GATE`` and
    the status that shows it), with the memory of the worker and of the server (pid ``server``)."""
    plan = open_program(size)
    ids = [f"scale-{n}" for n in range(programs)]
    await settle(worker)
    rss_before, cpu_before = rss_mb(worker), cpu_seconds(worker)
    began = time.perf_counter()
    stuck = await open_programs(c, plan, ids, limit, stall, **start)
    opened_s = time.perf_counter() - began
    await settle(worker)
    settled_s = time.perf_counter() - began
    rss_open, cpu_open = rss_mb(worker), cpu_seconds(worker)
    workflows = programs * (size + 1)
    open_ids = [pid for pid in ids if pid not in set(stuck)]
    streams = [f"{pid}/{w.key}" for pid in open_ids for w in plan.workstreams]
    sample = random.Random(7).sample(streams, min(samples, len(streams)))
    times, updates = [], []
    for tid in sample:
        t0 = time.perf_counter()
        await send(c, tid, Approve(gate=GATE, by=DANA, request_id=f"lat-{tid}"))
        updates.append((time.perf_counter() - t0) * 1000)
        await get_status(c, tid)
        times.append((time.perf_counter() - t0) * 1000)
    await settle(worker)
    rss_after = rss_mb(worker)
    # The histories the decisions touched, and their programs': a workflow task that timed out
    # means the worker fell behind its open workflows.
    looked = sample + sorted({tid.rpartition("/")[0] for tid in sample})
    failed = [
        f for found in await gather_limited([lambda t=tid: failed_tasks(c, t) for tid in looked], 10) for f in found
    ]
    return {
        "programs": programs,
        "workstreams_each": size,
        "open_workflows": workflows,
        "all_open": not stuck,
        "programs_not_open": len(stuck),
        "open_seconds": round(opened_s, 1),
        "settled_seconds": round(settled_s, 1),
        "programs_opened_per_s": round((programs - len(stuck)) / opened_s, 2),
        "worker_cpu_s_per_program": round((cpu_open - cpu_before) / programs, 4),
        "worker_rss_mb_before": round(rss_before, 1),
        "worker_rss_mb_open": round(rss_open, 1),
        "worker_rss_mb_after_decisions": round(rss_after, 1),
        "worker_kb_per_open_workflow": round((rss_open - rss_before) * 1024 / workflows, 1),
        "server_rss_mb": round(rss_mb(server), 1),
        "decision_latency": percentiles(times, updates),
        "failed_workflow_tasks": len(failed),
        "failed_workflow_task_causes": failed[:20],
        "histories_looked_at": len(looked),
    }
