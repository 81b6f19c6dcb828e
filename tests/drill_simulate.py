"""The simulation drill: the same plan simulated again and again, each run with a deadline.

Used by tests/test_drill_simulate.py at CI size and by ``make drill-simulate``
(``python -m tests.drill_simulate``) for a longer run. A simulation on Temporal's time-skipping
server that never finishes is rare (an activity left behind by a run that continued as new held
the server's clock forever, twice), so one run proves little: the drill runs many. Each run is a
process of its own with a watchdog: past its deadline it writes a dump (every thread's stack,
every asyncio task's, and what Temporal says of each workflow: its pending activities and the
last events of its history) to the drill's folder, and the drill counts it as hung. ``--starve``
pauses each run at random (SIGSTOP, SIGCONT) as a machine shared with other work would.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import gc
import json
import os
import random
import runpy
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PLAN = ROOT / "examples" / "reference-plan.yaml"
HUNG = 3
"""A run's exit status when its watchdog fired."""
SCENARIOS = ("program", "feeds", "pending", "calendar", "controls", "simulated")
"""examples/simulate.py's transitions, acme-NAME each."""


@dataclass
class Tally:
    """What a drill saw: each finished run's seconds, and the dump of each run that hung."""

    seconds: list[float] = field(default_factory=list)
    hung: list[Path] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        done = sorted(self.seconds)
        return {
            "runs": len(done) + len(self.hung) + len(self.failed),
            "finished": len(done),
            "hung": len(self.hung),
            "failed": len(self.failed),
            "median_s": round(done[len(done) // 2], 1) if done else None,
            "slowest_s": round(done[-1], 1) if done else None,
            "dumps": [str(p) for p in self.hung],
        }


def command(example: bool, plan: Path, years: int, decide_at: str = "50%") -> list[str]:
    """What each run runs: `bpo simulate`, or examples/simulate.py (what `make bench` runs)."""
    if example:
        return [str(ROOT / "examples" / "simulate.py"), "--years", str(years), "--until", "2031-12-31"]
    return ["bpo", "simulate", str(plan), "--years", str(years), "--decide-at", decide_at]


def run(
    folder: Path,
    runs: int,
    deadline: float,
    *,
    example: bool = False,
    plan: Path = PLAN,
    years: int = 1,
    decide_at: str = "50%",
    starve: bool = False,
    seed: int = 1,
    argv: list[str] | None = None,
) -> Tally:
    """Run the simulation ``runs`` times, one after the other, each given ``deadline`` seconds
    (``argv``: another script to run so, as the drill's own test does)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng, tally = random.Random(seed), Tally()
    argv = argv or command(example, plan, years, decide_at)
    for n in range(1, runs + 1):
        err = folder / f"run-{n:03d}.err"
        began = time.monotonic()
        with err.open("w") as stderr:
            child = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.drill_simulate",
                    "--child",
                    str(deadline),
                    "--",
                    *argv,
                ],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
            while child.poll() is None and starve:
                time.sleep(rng.uniform(0.2, 1.5))
                if child.poll() is None:  # a pause as long as a busy machine's: past a workflow task's 2 s
                    child.send_signal(signal.SIGSTOP)
                    time.sleep(rng.uniform(0.1, 2.5))
                    child.send_signal(signal.SIGCONT)
            try:
                code = child.wait(timeout=deadline + 30)
            except subprocess.TimeoutExpired:  # not even the watchdog answered
                child.kill()
                code = child.wait()
        took = time.monotonic() - began
        if code == 0:
            tally.seconds.append(took)
            err.unlink()
        elif code == HUNG or code < 0:
            tally.hung.append(err)
        else:
            tally.failed.append(f"run {n}: exit {code}, see {err}")
        print(f"run {n}/{runs}: {'done' if code == 0 else f'exit {code}'} in {took:.1f} s", file=sys.stderr, flush=True)
    return tally


# --- the child: one simulation under a watchdog --------------------------------------------


def child(deadline: float, argv: list[str]) -> None:
    """Run ``argv`` (``bpo ...`` or a script's path and its arguments) in this process; past
    ``deadline`` seconds, dump where it stands to stderr and exit with HUNG."""
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # a look at a run still going: kill -USR1
    loops: list[asyncio.AbstractEventLoop] = []
    run_forever = asyncio.BaseEventLoop.run_forever

    def noted(loop: asyncio.BaseEventLoop) -> None:
        loops.append(loop)
        run_forever(loop)

    asyncio.BaseEventLoop.run_forever = noted  # type: ignore[method-assign,assignment]
    threading.Thread(target=_watchdog, args=(deadline, loops), daemon=True).start()
    if argv[0] == "bpo":
        from starter import entry

        sys.argv = argv
        entry()
    else:
        sys.argv = argv
        sys.path.insert(0, str(Path(argv[0]).resolve().parent))  # as `python SCRIPT` would
        runpy.run_path(argv[0], run_name="__main__")


def _watchdog(deadline: float, loops: list[asyncio.AbstractEventLoop]) -> None:
    time.sleep(deadline)
    print(f"\n=== the simulation did not finish in {deadline:.0f} s: threads ===", file=sys.stderr, flush=True)
    faulthandler.dump_traceback(all_threads=True)
    if loops and loops[-1].is_running():
        asked = asyncio.run_coroutine_threadsafe(_dump(), loops[-1])
        try:
            asked.result(timeout=20)
        except Exception as error:  # a dump that half worked still says where it stood
            print(f"(the dump stopped: {error!r})", file=sys.stderr)
    sys.stderr.flush()
    os._exit(HUNG)


async def _dump() -> None:
    print("=== asyncio tasks ===", file=sys.stderr)
    for task in asyncio.all_tasks():
        print(f"-- {task.get_name()}", file=sys.stderr)
        awaited: Any = task.get_coro()
        while awaited is not None:  # the whole chain of awaits, where print_stack shows its top
            frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
            if frame is not None:
                print(f"  {frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}", file=sys.stderr)
            awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    from temporalio.client import Client

    # The simulation's client is a local of the code under test: found among live objects.
    for client in [o for o in gc.get_objects() if isinstance(o, Client)][:1]:
        print("=== workflows ===", file=sys.stderr, flush=True)
        try:
            ids = [w.id async for w in client.list_workflows()]
        except Exception as error:  # the time-skipping server may not list: the ones the simulations start
            print(f"(no list: {error!r})", file=sys.stderr)
            ids = ["simulated", *(f"acme-{name}" for name in SCENARIOS)]
        for workflow_id in dict.fromkeys(ids):
            try:
                await _describe(client, workflow_id)
            except Exception as error:
                print(f"  {workflow_id}: {error!r}", file=sys.stderr)


async def _describe(client: object, workflow_id: str) -> None:
    from temporalio.client import Client

    assert isinstance(client, Client)
    described = await client.get_workflow_handle(workflow_id).describe()
    info = described.raw_description
    print(
        f"=== workflow {workflow_id} run {described.run_id}: {described.status and described.status.name}",
        file=sys.stderr,
    )
    for pending in info.pending_activities:
        print(
            f"  pending activity {pending.activity_type.name} ({pending.state}, attempt {pending.attempt})",
            file=sys.stderr,
        )
    if info.HasField("pending_workflow_task"):
        print(f"  pending workflow task: {info.pending_workflow_task}", file=sys.stderr)
    history = await client.get_workflow_handle(workflow_id, run_id=described.run_id).fetch_history()
    for event in history.events[-12:]:
        print(
            f"  event {event.event_id} {event.event_time.ToDatetime():%Y-%m-%d %H:%M:%S} {event.WhichOneof('attributes')}",
            file=sys.stderr,
        )


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(float(sys.argv[2]), sys.argv[4:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--deadline", type=float, default=60, help="seconds a run may take before it counts as hung")
    parser.add_argument("--example", action="store_true", help="run examples/simulate.py (every scenario) instead")
    parser.add_argument("--plan", type=Path, default=PLAN, help="the plan `bpo simulate` runs")
    parser.add_argument("--years", type=int, default=1)
    parser.add_argument("--decide-at", default="50%", help="`bpo simulate --decide-at`: late decisions escalate")
    parser.add_argument("--starve", action="store_true", help="pause each run at random, as a busy machine would")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--dumps", type=Path, default=ROOT / "test-output" / "drill-simulate", help="where hung runs' dumps go"
    )
    args = parser.parse_args()
    tally = run(
        args.dumps,
        args.runs,
        args.deadline,
        example=args.example,
        plan=args.plan,
        years=args.years,
        decide_at=args.decide_at,
        starve=args.starve,
        seed=args.seed,
    )
    print(json.dumps(tally.summary(), indent=2))
    sys.exit(1 if tally.hung or tally.failed else 0)


if __name__ == "__main__":
    main()
