"""What `bench.run` drives and how it measures: the compact plan's script (a rework, then a
pass), and the small meters (a process's CPU seconds and memory, percentiles, a bounded gather)."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from models.commands import Approve, RecordReadings, Reject, Tick

COMPACT = Path(__file__).resolve().parent / "plans" / "compact.yaml"
PAT, SAM = "pat@client.example", "sam@provider.example"
SETUP = [
    Approve(gate="plan_approved", by=PAT),
    Tick(gate="runbook", item="access", by=SAM),
    Tick(gate="runbook", item="scripts", by=SAM),
]


def pilot(attempt: int) -> list[RecordReadings]:
    """The pilot's two periods; each attempt reads periods of its own, since a reading stands."""
    return [
        RecordReadings(period=f"A{attempt}-P1", values={"csat": 90, "error_rate": 1.0}, by=PAT),
        RecordReadings(period=f"A{attempt}-P2", values={"csat": 88, "error_rate": 1.5}, by=PAT),
    ]


# Setup, a pilot rejected once (rework back to setup), setup again, the pilot signed off.
SCRIPT = [
    *SETUP,
    *pilot(1),
    Reject(gate="go_live", by=PAT, reason="rework"),
    *SETUP,
    *pilot(2),
    Approve(gate="go_live", by=PAT),
    Approve(gate="go_live", by=SAM),
]
TICK = os.sysconf("SC_CLK_TCK")


def family(pid: int) -> list[int]:
    """``pid`` and the processes it started, theirs too (a worker's audit writer, `bpo up`'s
    children): what the process costs is what they all cost."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(_fields(stat.read_text())[1])
        except OSError:  # ended while we looked
            continue
        parents.setdefault(parent, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        todo.extend(parents.get(found[-1], []))
    return found


def _each(pid: int, name: str) -> list[str]:
    """``/proc/PID/name`` of ``pid`` and of each process it started (one that ended is left out)."""
    texts = []
    for one in family(pid):
        try:
            texts.append(Path(f"/proc/{one}/{name}").read_text())
        except OSError:
            continue
    return texts


def _fields(stat: str) -> list[str]:
    return stat.rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    return sum(int(_fields(stat)[11]) + int(_fields(stat)[12]) for stat in _each(pid, "stat")) / TICK


def rss_mb(pid: int) -> float:
    found = (line for status in _each(pid, "status") for line in status.splitlines() if line.startswith("VmRSS:"))
    return sum(int(line.split()[1]) for line in found) / 1024


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def percentiles(times: list[float], updates: list[float]) -> dict[str, float]:
    """A decision's round trip in milliseconds (update, then the status query), and its update
    alone: where the tail is, the update or the query."""
    return {
        "p50_ms": round(pct(times, 50), 2),
        "p95_ms": round(pct(times, 95), 2),
        "p99_ms": round(pct(times, 99), 2),
        "update_p95_ms": round(pct(updates, 95), 2),
        "update_p99_ms": round(pct(updates, 99), 2),
        "samples": len(times),
    }


async def gather_limited(jobs: list[Callable[[], Awaitable[Any]]], limit: int) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await job()

    return await asyncio.gather(*(one(j) for j in jobs))


async def settle(*pids: int, quiet: float = 3, busy: float = 0.1, most: float = float("inf")) -> float:
    """Until processes ``pids`` together have spent under ``busy`` CPU seconds a second for
    ``quiet`` seconds (``most`` seconds at most), and how long that took: the worker has worked
    off every workflow task and audit write, so what follows measures it idle."""
    began = time.monotonic()
    idle_since, last = began, sum(cpu_seconds(pid) for pid in pids)
    while time.monotonic() - idle_since < quiet and time.monotonic() - began < most:
        await asyncio.sleep(1)
        now_cpu = sum(cpu_seconds(pid) for pid in pids)
        if now_cpu - last > busy:
            idle_since = time.monotonic()
        last = now_cpu
    return time.monotonic() - began


def median_of(rounds: list[Any]) -> Any:
    """The median of each figure over rounds of one measure (dicts of the same shape): the
    figure `make bench` reports, so that one round disturbed by the machine does not speak for all."""
    first = rounds[0]
    if isinstance(first, dict):
        return {key: median_of([r[key] for r in rounds]) for key in first}
    if isinstance(first, int | float) and not isinstance(first, bool):
        middle = statistics.median(rounds)
        return round(middle, 4) if isinstance(middle, float) else middle
    return first
