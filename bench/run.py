"""`make bench`: what the engine costs over Temporal itself, and where it stops scaling.

Starts its own dev server (SQLite file, the settings `bpo server` uses) and worker processes,
runs each measure, and prints one table (also as JSON with --json FILE). Sizes are flags, so a
quick look (`--quick`) and the full run share the code.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from bench.bare import BareInput, BareStep, BareWorkflow
from bench.options import options
from bench.script import COMPACT, PAT, SCRIPT, cpu_seconds, gather_limited, median_of, percentiles, rss_mb, settle
from bench.table import print_table, progress
from bench.trace import decision
from bpo.api import audit_settled, get_status, send, start_transition
from bpo.running import SANDBOX
from infra.settings import Settings
from models.commands import Approve, RecordReadings
from models.plan_loader import load_plan
from tests.stack import BPO, ROOT, Stack
from workflows.transition import TransitionWorkflow

# A benchmark on its own throwaway server: its unsigned transitions are a trial (bpo.api.NO_KEY).
os.environ.setdefault("BPO_ALLOW_UNSIGNED", "1")


class Bench:
    def __init__(self, data: Path, args: argparse.Namespace) -> None:
        self.args = args
        self.stack = Stack(data)
        self.settings = Settings(
            TEMPORAL_ADDRESS=f"127.0.0.1:{self.stack.port}", BPO_DATA_DIR=data, BPO_TASK_QUEUE="e2e"
        )
        self.plan = load_plan(COMPACT, env={}).plan
        self.start: dict[str, Any] = {"task_queue": self.settings.task_queue, **self.settings.flush_timing}
        """As `bpo start` starts a transition."""
        self.results: dict[str, Any] = {}
        self.bare_worker: subprocess.Popen[bytes] | None = None
        self.traced: Any = None

    async def client(self) -> Client:
        from infra.client import connect

        interceptors: list[Any] = []
        if self.args.trace:  # the worker traces too: main gave it BPO_TRACE_FILE
            from infra.tracing import start_tracing

            interceptors, self.traced = start_tracing(self.args.trace, "client")
        return await connect(self.settings, None, interceptors)

    # --- 1 and 2: throughput, ours against bare ---------------------------------------------

    async def drive_ours(self, c: Client, tid: str) -> None:
        await start_transition(c, self.plan, **self.start, transition_id=tid)
        for n, command in enumerate(SCRIPT):
            status = await send(c, tid, command.model_copy(update={"request_id": f"{tid}-{n}"}))
        assert status.phase == "steady_state", status.phase
        await self.written(c, [tid])

    async def written(self, c: Client, ids: list[str]) -> None:
        """Until the audit trails of ``ids`` are written, entries that linger asked to go now (as
        `bpo audit` asks): ours is done when its trail is, and bare meets no flush of ours."""
        await gather_limited([lambda t=t: audit_settled(c, t, 60) for t in ids], self.args.concurrency)

    async def drive_bare(self, c: Client, wid: str) -> None:
        handle = await c.start_workflow(BareWorkflow.run, BareInput(updates=len(SCRIPT)), id=wid, task_queue="bare")
        for n in range(len(SCRIPT)):
            await handle.execute_update(BareWorkflow.step, BareStep(by=PAT, value=n))
        await handle.result()

    async def rounds(self, name: str, measure: Callable[[int], Awaitable[None]]) -> None:
        """``measure`` (ours, then bare) ``--rounds`` times; its figures the median of the rounds'."""
        each = []
        for k in range(self.args.rounds):
            await measure(k)
            each.append(self.results.pop(name))
        self.results[name] = {**median_of(each), "rounds": each}

    async def throughput(self, c: Client, k: int = 0) -> None:
        n, limit = self.args.transitions, self.args.concurrency
        ours_id, bare_id = ("bench-{}", "bare-{}") if k == 0 else (f"bench-{k}-{{}}", f"bare-{k}-{{}}")
        worker, server = self.stack.worker, self.stack.server
        assert worker and server and self.bare_worker
        cpu0 = (cpu_seconds(worker.pid), cpu_seconds(server.pid))
        began = time.perf_counter()
        await gather_limited([lambda i=i: self.drive_ours(c, ours_id.format(i)) for i in range(n)], limit)
        ours = time.perf_counter() - began
        cpu1 = (cpu_seconds(worker.pid), cpu_seconds(server.pid))
        bare_cpu0 = (cpu_seconds(self.bare_worker.pid), cpu_seconds(server.pid))
        began = time.perf_counter()
        await gather_limited([lambda i=i: self.drive_bare(c, bare_id.format(i)) for i in range(n)], limit)
        bare = time.perf_counter() - began
        bare_cpu1 = (cpu_seconds(self.bare_worker.pid), cpu_seconds(server.pid))
        decisions = n * len(SCRIPT)
        self.results["throughput"] = {
            "transitions": n,
            "decisions_each": len(SCRIPT),
            "ours_seconds": round(ours, 2),
            "ours_transitions_per_s": round(n / ours, 2),
            "ours_decisions_per_s": round(decisions / ours, 1),
            "worker_cpu_s_per_transition": round((cpu1[0] - cpu0[0]) / n, 4),
            "server_cpu_s_per_transition": round((cpu1[1] - cpu0[1]) / n, 4),
            "bare_seconds": round(bare, 2),
            "bare_workflows_per_s": round(n / bare, 2),
            "bare_worker_cpu_s_per_workflow": round((bare_cpu1[0] - bare_cpu0[0]) / n, 4),
            "bare_server_cpu_s_per_workflow": round((bare_cpu1[1] - bare_cpu0[1]) / n, 4),
            "throughput_ratio_ours_to_bare": round(bare / ours, 2),
            "time_ratio_ours_to_bare": round(ours / bare, 2),
        }

    # --- 3: decision latency --------------------------------------------------------------------

    async def latency(self, c: Client, samples: int, parked: list[str] | None = None, k: int = 0) -> dict[str, float]:
        """Update round trip plus the status query that shows it, on transitions in steady state
        (readings, each of a period of its own: always a valid decision), or on parked transitions' first gate."""
        times, updates = [], []
        for i in range(samples):
            tid = parked[i % len(parked)] if parked else f"bench-{i % self.args.transitions}"
            with decision(bool(self.args.trace), "ours", tid):
                began = time.perf_counter()
                if parked:
                    await send(c, tid, Approve(gate="plan_approved", by=PAT, request_id=f"lat-{tid}"))
                else:
                    await send(c, tid, RecordReadings(period=f"L{k}-{i}", values={"csat": 90}, by=PAT))
                updates.append((time.perf_counter() - began) * 1000)
                await get_status(c, tid)
                times.append((time.perf_counter() - began) * 1000)
        return percentiles(times, updates)

    async def bare_latency(self, c: Client, samples: int, k: int = 0) -> dict[str, float]:
        handle = await c.start_workflow(
            BareWorkflow.run, BareInput(updates=10**9), id=f"bare-latency-{k}", task_queue="bare"
        )
        times, updates = [], []
        for i in range(samples):
            with decision(bool(self.args.trace), "bare", handle.id):
                began = time.perf_counter()
                await handle.execute_update(BareWorkflow.step, BareStep(by=PAT, value=i))
                updates.append((time.perf_counter() - began) * 1000)
                await handle.query(BareWorkflow.status)
                times.append((time.perf_counter() - began) * 1000)
        await handle.terminate("bench over")
        return percentiles(times, updates)

    def cli_cold(self) -> dict[str, float]:
        times = []
        for _ in range(self.args.cli_runs):
            began = time.perf_counter()
            subprocess.run(
                [*BPO, "status", "bench-0", "--json"], env=self.stack.env, cwd=ROOT, capture_output=True, check=True
            )
            times.append(time.perf_counter() - began)
        return {"bpo_status_median_s": round(statistics.median(times), 3), "runs": len(times)}

    # --- 4: history size ----------------------------------------------------------------------

    async def history(self, c: Client, tmp: Path) -> None:
        from bench.reference import reference_history

        self.results["history"] = await reference_history(c, tmp, self.start)

    # --- 5: simulation; 7: replay ---------------------------------------------------------------

    def simulation(self, tmp: Path) -> None:
        began = time.perf_counter()
        figures = tmp / "simulation.json"
        years = str(self.args.sim_years)
        # The figures come from their own file: stdout also carries the scenarios' log lines.
        try:
            done = subprocess.run(
                [
                    sys.executable,
                    "examples/simulate.py",
                    "--years",
                    years,
                    "--until",
                    "2031-12-31",
                    "--json-out",
                    figures,
                ],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=600,  # it takes seconds; one that hangs is told, not waited for (make drill-simulate)
            )
        except subprocess.TimeoutExpired:
            raise SystemExit(
                "examples/simulate.py did not finish in 600 s; make drill-simulate dumps such a run"
            ) from None
        if done.returncode != 0 or not figures.exists():
            raise SystemExit(f"examples/simulate.py failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
        stats = json.loads(figures.read_text())
        stats["process_wall_seconds"] = round(time.perf_counter() - began, 2)
        self.results["simulation"] = stats

    async def replay(self) -> None:
        paths = sorted((ROOT / "tests" / "histories").rglob("*.json"))[-self.args.replay_histories :]
        histories = [WorkflowHistory.from_json("acme-simulated", p.read_text()) for p in paths]
        replayer = Replayer(
            workflows=[TransitionWorkflow], data_converter=pydantic_data_converter, workflow_runner=SANDBOX
        )
        began = time.perf_counter()
        for history in histories:
            await replayer.replay_workflow(history)
        took = time.perf_counter() - began
        events = sum(len(h.events) for h in histories)
        self.results["replay"] = {
            "histories": len(histories),
            "events": events,
            "seconds": round(took, 3),
            "events_per_s": round(events / took),
        }

    # --- 6: scale -------------------------------------------------------------------------------

    async def scale(self, c: Client) -> None:
        n = self.args.parked
        began = time.perf_counter()
        await gather_limited(
            [lambda i=i: start_transition(c, self.plan, **self.start, transition_id=f"parked-{i}") for i in range(n)],
            50,
        )
        started = time.perf_counter() - began
        assert self.stack.worker and self.stack.server
        # Let the worker work off every first workflow task and audit write before measuring.
        await settle(self.stack.worker.pid)
        settled = time.perf_counter() - began
        sample = random.Random(7).sample([f"parked-{i}" for i in range(n)], min(self.args.samples // 2, n))
        self.results["scale"] = {
            "open_transitions": n,
            "start_seconds": round(started, 1),
            "settled_seconds": round(settled, 1),
            "worker_rss_mb": round(rss_mb(self.stack.worker.pid), 1),
            "server_rss_mb": round(rss_mb(self.stack.server.pid), 1),
            "decision_latency": await self.latency(c, len(sample), parked=sample),
        }

    # --- the run ------------------------------------------------------------------------------

    async def run(self, tmp: Path) -> dict[str, Any]:
        c = await self.client()
        steps: list[tuple[str, str, Callable[[], Awaitable[None] | None]]] = [
            (
                "throughput",
                f"{self.args.transitions} transitions, ours then bare, {self.args.rounds} rounds",
                lambda: self.rounds("throughput", lambda k: self.throughput(c, k)),
            ),
            (
                "latency",
                f"{self.args.samples} decisions, ours then bare, {self.args.rounds} rounds",
                lambda: self.rounds("latency", lambda k: self.latencies(c, k)),
            ),
            ("cli", f"bpo status as a process, {self.args.cli_runs} times", self.cli),
            ("history", "the reference plan to steady state", lambda: self.history(c, tmp)),
            ("simulation", f"{self.args.sim_years} years on the time-skipping server", lambda: self.simulation(tmp)),
            ("replay", f"the committed corpus ({self.args.replay_histories or 'all'} histories)", self.replay),
            ("scale", f"{self.args.parked} open transitions", lambda: self.scale(c)),
            ("program", f"a program of {self.args.workstreams} workstreams", lambda: self.program(c)),
            (
                "programs",
                f"{self.args.programs} programs of {self.args.program_workstreams} workstreams open at once",
                lambda: self.programs(c),
            ),
        ]
        chosen = [s for s in steps if s[0] in self.args.only and (s[0] != "scale" or self.args.parked)]
        for n, (name, what, step) in enumerate(chosen, 1):
            began = time.perf_counter()
            progress(f"[{n}/{len(chosen)}] {name}: {what} ...")
            if (pending := step()) is not None:
                await pending
            progress(f"[{n}/{len(chosen)}] {name}: done in {time.perf_counter() - began:.0f} s")
        if self.traced:
            self.traced.shutdown()  # writes the client's spans still pending
        return self.results

    async def latencies(self, c: Client, k: int = 0) -> None:
        if k == 0 and "throughput" not in self.results:  # `--only latency`: its transitions in steady state first
            await gather_limited(
                [lambda i=i: self.drive_ours(c, f"bench-{i}") for i in range(self.args.transitions)],
                self.args.concurrency,
            )
        ours = await self.latency(c, self.args.samples, k=k)
        await self.written(c, [f"bench-{i}" for i in range(min(self.args.samples, self.args.transitions))])
        lat = self.results["latency"] = {"ours": ours, "bare": await self.bare_latency(c, self.args.samples, k)}
        for p in ("p50", "p95", "p99"):
            lat[f"{p}_ratio_ours_to_bare"] = round(lat["ours"][f"{p}_ms"] / lat["bare"][f"{p}_ms"], 2)

    async def cli(self) -> None:
        self.results["cli_cold"] = self.cli_cold()

    async def program(self, c: Client) -> None:
        from bench.program import measure

        samples = min(self.args.samples, 200)
        self.results["program"] = await measure(c, self.settings.task_queue, self.args.workstreams, samples)

    async def programs(self, c: Client) -> None:
        from bench.program import at_scale

        # A worker of its own: the measures before leave up to ten thousand transitions in the old
        # one's cache, which would hide what the programs add to its memory.
        assert self.stack.worker and self.stack.server
        self.stack.worker.send_signal(signal.SIGTERM)
        self.stack.worker.wait(timeout=60)
        self.stack.start_worker()
        assert self.stack.worker
        self.results["programs"] = await at_scale(
            c,
            worker=self.stack.worker.pid,
            server=self.stack.server.pid,
            programs=self.args.programs,
            size=self.args.program_workstreams,
            samples=self.args.samples,
            limit=self.args.concurrency,
            **self.start,
        )


def main() -> None:
    args = options(__doc__.splitlines()[0])
    with tempfile.TemporaryDirectory() as data:
        bench = Bench(Path(data), args)
        bench.stack.start_server()
        bench.stack.start_worker()
        bench.bare_worker = subprocess.Popen(
            [sys.executable, "-m", "bench.bare_worker"],
            cwd=ROOT,
            env=bench.stack.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        began = time.perf_counter()
        try:
            results = asyncio.run(bench.run(Path(data)))
        finally:
            bench.bare_worker.terminate()
            bench.stack.stop()
    results["machine"] = {
        "server_sync": os.environ.get("BPO_SERVER_SYNC", "full"),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "bench_seconds": round(time.perf_counter() - began, 1),
    }
    before = json.loads(args.json.read_text()) if args.json and args.json.exists() else {}
    print_table(results, before)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
