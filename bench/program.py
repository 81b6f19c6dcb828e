"""`make bench`'s program measure: a program of 12 workstreams driven to steady state on the dev
server, with the events each workstream's history and the program's take, and the decision round
trip on a workstream against the same decision on a plain transition of the same plan."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import yaml
from temporalio.client import Client

from bench.script import pct
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
