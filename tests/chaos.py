"""The chaos drill: many transitions driven at once while the worker and the server are SIGKILLed.

Used by tests/test_chaos.py at CI size and by ``make chaos`` (``python -m tests.chaos``) for a
longer run. Every command is signed and retried under the same update id until it is answered,
as a careful client would; at the end every transition must stand where an undisturbed run would,
and every notice (each one is audited on the log channel) must have reached a real webhook
receiver. A webhook delivery is at least once, recognisable by its id: a kill between the POST and
its audit row can send it again, and the drill counts those as ``resent``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session

from bpo.api import BpoError, get_status, send, start_transition
from infra.audit import read_trail
from infra.chain import verify_chain
from infra.client import connect
from infra.db import make_engine
from infra.settings import Settings
from models.commands import Approve, RecordReadings, Tick
from models.plan_loader import load_plan
from models.signing import Signer, new_key_pair
from tests.receivers import counting_hook
from tests.stack import Stack

PLAN = Path(__file__).resolve().parent / "plans" / "chaos.yaml"
PAT, SAM = "pat@client.example", "sam@provider.example"
SCRIPT: list[Any] = [
    Approve(gate="plan_approved", by=PAT),
    Tick(gate="runbook", item="access", by=SAM),
    Tick(gate="runbook", item="scripts", by=SAM),
    RecordReadings(period="P1", values={"csat": 90, "error_rate": 1.0}, by=PAT),
    RecordReadings(period="P2", values={"csat": 88, "error_rate": 1.5}, by=PAT),
    Approve(gate="go_live", by=PAT),
    Approve(gate="go_live", by=SAM),
    RecordReadings(period="M1", values={"csat": 80}, by=PAT),  # steady state: a miss, 3% of 10,000
]
EXPECTED_DECISIONS = ["approved", "ticked", "ticked", "approved", "approved"]
EXPECTED_SETTLEMENT = ({"csat": "missed", "error_rate": "no data"}, 300.0)


@dataclass
class Tally:
    kills: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    problems: list[str] = field(default_factory=list)
    resent: int = 0
    """Webhook deliveries received more than once (the same id), after a kill mid-delivery."""


def killer(stack: Stack, tally: Tally, stop: threading.Event, every: tuple[float, float], rng: random.Random) -> None:
    """SIGKILL the worker or the server at random moments and start it again on the same data."""
    while not stop.wait(rng.uniform(*every)):
        which = "server" if tally.kills["server"] < tally.kills["worker"] else "worker"
        if rng.random() < 0.25:
            which = "worker" if which == "server" else "server"
        stack.kill(which)
        tally.kills[which] += 1
        time.sleep(rng.uniform(0.2, 1.5))
        if which == "server":
            stack.start_server()
        else:
            stack.start_worker()
        if stack.worker is not None and stack.worker.poll() is not None:  # it may die with the server
            stack.start_worker()


async def _until_answered(call: Any, tally: Tally) -> Any:
    while True:
        try:
            return await call()
        except BpoError as error:
            if error.refused:
                raise
        except Exception:  # the server or the connection is down: a careful client tries again
            pass
        tally.retries += 1
        await asyncio.sleep(0.5)


async def drive(
    settings: Settings, plan: Any, tid: str, tally: Tally, pace: tuple[float, float], rng: random.Random, signer: Signer
):
    client = await _until_answered(lambda: connect(settings), tally)
    await _until_answered(
        lambda: start_transition(
            client, plan, task_queue=settings.task_queue, transition_id=tid, trusted_keys=[signer.public_key],
            signer=signer,
        ),
        tally,
    )
    for n, command in enumerate(SCRIPT):
        await asyncio.sleep(rng.uniform(*pace))
        if n == len(SCRIPT) - 1:  # the steady-state reading waits for steady state
            while (await _until_answered(lambda: get_status(client, tid), tally)).phase != "steady_state":
                await asyncio.sleep(0.5)
        # No request id in the command: the update id, the same on every retry, stands in for one,
        # and the signature covers it. Signed once: a retry sends the same signed command (signed
        # again, it would be another statement, which a task redone after its completion was lost
        # cannot take for the rows its first try wrote).
        at = datetime.now(UTC)
        await _until_answered(lambda: send(client, tid, command, signer, update_id=f"{tid}-{n}", signed_at=at), tally)


async def verify(
    settings: Settings, ids: list[str], tally: Tally, timeout: float, hooked: Counter[str] | None = None
) -> None:
    """Each transition settled its first period as an undisturbed run would, with nothing doubled;
    every notice reached the webhook (``hooked``: how often each notice id arrived)."""
    client = await connect(settings)
    deadline = time.monotonic() + timeout
    engine = make_engine(settings.audit_url)
    for tid in ids:
        while True:
            status = await _until_answered(lambda: get_status(client, tid), tally)
            if status.settlements or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
        if status.phase != "steady_state" or status.state != "running":
            tally.problems.append(f"{tid}: {status.state} in {status.phase}")
        kinds = [d.kind for d in status.decisions]
        if kinds != EXPECTED_DECISIONS:
            tally.problems.append(f"{tid}: decisions {kinds}")
        settled = [(s.kpis, s.credit) for s in status.settlements[:1]]
        if settled != [EXPECTED_SETTLEMENT]:
            tally.problems.append(f"{tid}: first settlement {settled}")
        for _ in range(60):  # the audit trail is written just after each change
            with Session(engine) as session:
                trail = read_trail(tid, session=session)
            rows = Counter(r.kind for r in trail)
            if rows["settlement"] >= 1 and rows["phase_passed"] >= 2:
                break
            await asyncio.sleep(0.5)
        chain = verify_chain(trail)
        if chain.problem or chain.signed != len(SCRIPT):
            tally.problems.append(f"{tid}: audit chain {chain}")
        audit = (rows["approved"], rows["ticked"], rows["kpi_reading"], rows["phase_passed"])
        if audit != (3, 2, 3, 2) or rows["settlement"] != len(status.settlements):
            tally.problems.append(f"{tid}: audit trail {dict(rows)} against {len(status.settlements)} settlements")
        if hooked is not None:
            await _notices_arrived(settings, tid, tally, hooked, deadline)


async def _notices_arrived(settings: Settings, tid: str, tally: Tally, hooked: Counter[str], deadline: float) -> None:
    """Every notice the log channel audited also reached the webhook (retries may still be on
    their way when the drill stops killing)."""
    engine = make_engine(settings.audit_url)
    while True:
        with Session(engine) as session:
            trail = read_trail(tid, session=session)
        logged = {r.detail["notice"] for r in trail if r.kind == "notification_sent" and r.detail["channel"] == "log"}
        lost = logged - set(hooked)
        if not lost or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    if lost:
        tally.problems.append(f"{tid}: {len(lost)} notices never reached the webhook, e.g. {sorted(lost)[0]}")
    tally.resent += sum(n - 1 for key, n in hooked.items() if key.startswith(f"{tid}/") and n > 1)


def run(data: Path, transitions: int, min_kills: int, seed: int, pace: tuple[float, float]) -> Tally:
    """The whole drill; returns the counts and whatever was found lost or doubled."""
    rng = random.Random(seed)
    with counting_hook() as (url, hook):
        return _run(data, transitions, min_kills, rng, seed, pace, url, hook.taken)


def _run(
    data: Path,
    transitions: int,
    min_kills: int,
    rng: random.Random,
    seed: int,
    pace: tuple[float, float],
    url: str,
    hooked: Counter[str],
) -> Tally:
    stack = Stack(data, {"BPO_WEBHOOK_URL": url})
    stack.start_server()
    stack.start_worker()
    settings = Settings(TEMPORAL_ADDRESS=f"127.0.0.1:{stack.port}", BPO_DATA_DIR=data, BPO_TASK_QUEUE="e2e")
    plan = load_plan(PLAN, env={}).plan
    ids = [f"chaos-{seed}-{n:03d}" for n in range(transitions)]
    tally, stop = Tally(), threading.Event()
    chaos = threading.Thread(target=killer, args=(stack, tally, stop, (2.0, 5.0), rng), daemon=True)
    try:
        chaos.start()

        signer = Signer(new_key_pair()[0])

        async def main() -> None:
            drivers = [drive(settings, plan, tid, tally, pace, random.Random(rng.random()), signer) for tid in ids]
            await asyncio.gather(*drivers)
            while min(tally.kills["worker"], tally.kills["server"]) < min_kills:
                await asyncio.sleep(0.5)
            stop.set()
            await asyncio.to_thread(chaos.join)
            if stack.worker is None or stack.worker.poll() is not None:
                stack.start_worker()
            await verify(settings, ids, tally, timeout=120, hooked=hooked)

        asyncio.run(main())
    finally:
        stop.set()
        stack.stop()
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description="SIGKILL the engine while transitions run; check nothing is lost")
    parser.add_argument("--transitions", type=int, default=50)
    parser.add_argument("--kills", type=int, default=15, help="at least this many kills of each process")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        tally = run(Path(data), args.transitions, args.kills, args.seed, pace=(2.0, 8.0))
    verdict = "nothing lost or doubled" if not tally.problems else f"{len(tally.problems)} PROBLEMS"
    print(
        json.dumps(
            {
                "transitions": args.transitions,
                "seed": args.seed,
                "kills": dict(tally.kills),
                "client_retries": tally.retries,
                "webhook_resent": tally.resent,
                "verdict": verdict,
                "problems": tally.problems[:20],
            },
            indent=2,
        )
    )
    raise SystemExit(1 if tally.problems else 0)


if __name__ == "__main__":
    main()
