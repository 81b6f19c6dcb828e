"""`make bench`, the web app's part: the inbox under load from a second process.

Starts its own dev server, worker and `bpo web`, opens ``--transitions`` transitions of the
compact plan whose approver is one of ``--people`` people (so each person's inbox holds
transitions/people gates), signs each person in through a single-use link, and then has
``--sessions`` sessions load their inbox at once, ``--rounds`` times each: right after
everyone's first load (the plans' names those loads asked for still read behind them), and again
once the web app, the worker and the server are quiet. Each time it says whose CPU a page took:
the web app's, the server's, the worker's and this client's own, all on the same cores. The
inbox answers from Temporal's visibility store: one list call, however many transitions run.
The default size is the goal's: 20,000 open transitions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import delete
from sqlmodel import Session

from bench.run import COMPACT, gather_limited, rss_mb
from bench.script import cpu_seconds, pct, settle
from bpo.api import start_transition
from infra.db import make_engine
from infra.links import mint_link
from infra.settings import Settings
from models.plan_loader import parse_plan
from models.web_tables import KeptPlanNames
from tests.stack import Stack
from tests.web_client import csrf_of

PAT = "pat@client.example"


def person(k: int) -> str:
    return f"pat{k}@client.example"


async def sign_in(base: str, engine: Any, address: str) -> httpx.AsyncClient:
    """A session of ``address``, signed in by a link as a person would be."""
    # A connection idle for 2 s is not used again: uvicorn closes one idle for 5 s, httpx's own
    # expiry, and a load sent as it closes fails ("Server disconnected"), as one did after a wait.
    limits = httpx.Limits(max_connections=4, keepalive_expiry=2.0)
    client = httpx.AsyncClient(base_url=base, timeout=60, limits=limits)
    link = f"/login/link/{mint_link(engine, address, '/', timedelta(hours=1))}"
    page = await client.get(link)
    answer = await client.post(link, data={"csrf": csrf_of(page.text)})
    assert answer.status_code == 303, answer.text
    return client


async def measure(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    from infra.client import connect

    settings = Settings(TEMPORAL_ADDRESS=f"127.0.0.1:{stack.port}", BPO_DATA_DIR=stack.data_dir, BPO_TASK_QUEUE="e2e")
    c = await connect(settings)
    text = COMPACT.read_text()
    plans = [parse_plan(text.replace(PAT, person(k)), env={}).plan for k in range(args.people)]
    began = time.perf_counter()
    await gather_limited(
        [
            lambda i=i: start_transition(
                c, plans[i % args.people], task_queue=settings.task_queue, transition_id=f"web-{i}"
            )
            for i in range(args.transitions)
        ],
        50,
    )
    started = time.perf_counter() - began
    engine = make_engine(settings.audit_url)
    sessions = [await sign_in(stack.web_url, engine, person(k % args.people)) for k in range(args.sessions)]
    expected = args.transitions // args.people
    # Wait until visibility shows every transition's awaited approver (the worker publishes it).
    deadline = time.monotonic() + 600
    while (await sessions[0].get("/")).text.count("/gates/") < expected and time.monotonic() < deadline:
        await asyncio.sleep(2)
    # Every session's first load, all at once (each person's asks the visibility store, but for
    # the one the wait above loaded), then the loads that follow, which answer from the overview
    # the web app keeps fresh behind them.
    first: list[float] = []
    latencies: list[float] = []

    async def load(session: httpx.AsyncClient, times: int, into: list[float]) -> None:
        for _ in range(times):
            t0 = time.perf_counter()
            answer = await session.get("/")
            into.append((time.perf_counter() - t0) * 1000)
            assert answer.status_code == 200

    await asyncio.gather(*(load(s, 1, first) for s in sessions))
    assert stack.web is not None and stack.server is not None and stack.worker is not None
    # Whose CPU the loads take, all sharing the machine's cores: this client's own, and each process's.
    pids = {"web": stack.web.pid, "server": stack.server.pid, "worker": stack.worker.pid}

    async def loads() -> tuple[list[float], float, dict[str, float]]:
        times: list[float] = []
        cpu = {name: cpu_seconds(pid) for name, pid in pids.items()} | {"client": time.process_time()}
        t0 = time.perf_counter()
        await asyncio.gather(*(load(s, args.rounds, times) for s in sessions))
        took = time.perf_counter() - t0
        cpu = {name: cpu_seconds(pid) - cpu[name] for name, pid in pids.items()} | {
            "client": time.process_time() - cpu["client"]
        }
        return times, took, {name: round(seconds / len(times) * 1000, 2) for name, seconds in cpu.items()}

    # Right after everyone's first load: the plans' names those loads asked for are still being
    # read behind them (the worker replays what its cache lost), as just after a start.
    latencies, took, cpu = await loads()
    # Then once the web app, the worker and the server are quiet: the inbox as people use it.
    waited = await settle(*pids.values(), quiet=1, most=120)
    settled, settled_took, settled_cpu = await loads()
    rows = (await sessions[0].get("/")).text.count("/gates/")
    unkept = await after_a_restart(stack, sessions, engine, forget_names=True)
    restarted = await after_a_restart(stack, sessions, engine)
    for s in sessions:
        await s.aclose()
    assert stack.web is not None
    return {
        "open_transitions": args.transitions,
        "people": args.people,
        "inbox_rows_each": rows,
        "sessions": args.sessions,
        "requests": len(latencies),
        "start_seconds": round(started, 1),
        "inbox_ms": {q: round(pct(latencies, v), 1) for q, v in (("p50", 50), ("p95", 95), ("p99", 99))},
        "first_load_ms": {"p50": round(pct(first, 50), 1), "max": round(max(first), 1)},
        "requests_per_s": round(len(latencies) / took, 1),
        "cpu_ms_per_page": cpu,
        "settled": {
            "waited_s": round(waited, 1),
            "inbox_ms": {q: round(pct(settled, v), 1) for q, v in (("p50", 50), ("p95", 95), ("p99", 99))},
            "requests_per_s": round(len(settled) / settled_took, 1),
            "cpu_ms_per_page": settled_cpu,
        },
        "web_rss_mb": round(rss_mb(stack.web.pid), 1),
        "after_restart_ms": restarted,
        "after_restart_names_forgotten_ms": unkept,
    }


async def after_a_restart(
    stack: Stack, sessions: list[httpx.AsyncClient], engine: Any, forget_names: bool = False
) -> dict[str, float]:
    """The web app stopped and started again (nothing kept in its memory): one person's first
    load alone, then everyone else's at once; each session stays signed in across the restart.
    With ``forget_names``, the plans' names it keeps in the database are dropped first, as it
    was before it kept them: each listed plan is asked of Temporal again."""
    assert stack.web is not None
    stack.web.terminate()
    stack.web.wait(timeout=20)
    if forget_names:
        with Session(engine) as session:
            session.execute(delete(KeptPlanNames))
            session.commit()
    stack.start_web()
    timed: list[float] = []

    async def first(session: httpx.AsyncClient) -> None:
        t0 = time.perf_counter()
        answer = await session.get("/")
        timed.append((time.perf_counter() - t0) * 1000)
        assert answer.status_code == 200 and "/gates/" in answer.text, "signed out by the restart?"

    await first(sessions[0])
    await asyncio.gather(*(first(s) for s in sessions[1:]))
    rest = timed[1:] or timed
    return {"one": round(timed[0], 1), "rest_p50": round(pct(rest, 50), 1), "rest_max": round(max(rest), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transitions", type=int, default=20000)
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a look in a minute")
    parser.add_argument("--smoke", action="store_true", help="the smallest sizes: does the measure still run?")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.quick:
        args.transitions, args.people, args.sessions, args.rounds = 200, 10, 10, 5
    if args.smoke:  # tests/test_bench_smoke.py
        args.transitions, args.people, args.sessions, args.rounds = 4, 2, 2, 2
    with tempfile.TemporaryDirectory() as data:
        stack = Stack(Path(data))
        stack.start_server()
        stack.start_worker()
        stack.start_web()
        try:
            results = asyncio.run(measure(stack, args))
        finally:
            stack.stop()
    ms, settled = results["inbox_ms"], results["settled"]
    print(
        f"web inbox: {results['sessions']} sessions over {results['open_transitions']} open transitions "
        f"({results['inbox_rows_each']} gates each): p50 {ms['p50']} / p95 {ms['p95']} / p99 {ms['p99']} ms, "
        f"{results['requests_per_s']} pages/s, web RSS {results['web_rss_mb']} MB (target p95 < 300 ms); "
        f"CPU a page, ms: {', '.join(f'{k} {v}' for k, v in results['cpu_ms_per_page'].items())}; "
        f"once quiet ({settled['waited_s']} s later): p50 {settled['inbox_ms']['p50']} / p95 "
        f"{settled['inbox_ms']['p95']} / p99 {settled['inbox_ms']['p99']} ms, {settled['requests_per_s']} pages/s, "
        f"CPU a page, ms: {', '.join(f'{k} {v}' for k, v in settled['cpu_ms_per_page'].items())}; "
        f"first loads, all {results['sessions']} at once: p50 {results['first_load_ms']['p50']} / "
        f"max {results['first_load_ms']['max']} ms; after a restart of the web app: one person's first "
        f"load {results['after_restart_ms']['one']} ms (target < 1 s), then the rest at once p50 "
        f"{results['after_restart_ms']['rest_p50']} / max {results['after_restart_ms']['rest_max']} ms "
        f"(with the plans' names forgotten: {results['after_restart_names_forgotten_ms']['one']} ms, then p50 "
        f"{results['after_restart_names_forgotten_ms']['rest_p50']} / max "
        f"{results['after_restart_names_forgotten_ms']['rest_max']} ms)"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
