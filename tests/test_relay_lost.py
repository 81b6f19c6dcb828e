"""A workstream's question to its program lost with its worker: the pause the program relayed takes
hold within seconds, not half a minute. Found by the end-to-end program test: a worker killed
while a workstream asked its program (`confirm_relay`) left that workstream taking ticks and
readings for 30 s after its program was paused, until the lost try timed out. The time-skipping
server, the real worker but for a `confirm_relay` whose first try never answers."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
from temporalio import activity
from temporalio.worker import Worker

from activities.programs import ProgramActivities
from bpo.running import build_worker
from infra.audit import trail_of
from infra.db import make_engine
from models.commands import Pause
from models.program import RelayAnswer, RelayAsk
from tests.driver import Driver
from tests.stack import LI
from tests.test_workstreams import signed_program, until


async def test_a_relayed_pause_takes_hold_soon_after_a_lost_confirmation(env, settings):
    programs = ProgramActivities(env.client)
    asked: list[str] = []

    @activity.defn(name="confirm_relay")
    async def lost_once(ask: RelayAsk) -> RelayAnswer:
        asked.append(ask.workstream)
        if len(asked) == 1:  # the worker that ran this try is gone: it never answers
            await asyncio.Event().wait()
        return await programs.confirm_relay(ask)

    with ThreadPoolExecutor(max_workers=4) as executor:
        async with httpx.AsyncClient() as http:
            # The worker as it is built, on a queue of its own, copied to the test's queue with
            # the one activity changed (two workers may not poll one queue from one process).
            aside = settings.model_copy(update={"task_queue": f"{settings.task_queue}-aside"})
            config = build_worker(env.client, aside, http, executor).config()
            kept = [a for a in config["activities"] if activity._Definition.must_from_callable(a).name != "confirm_relay"]
            config["activities"], config["task_queue"] = [*kept, lost_once], settings.task_queue
            async with Worker(**config):
                tid, program, signed = await signed_program(env, settings)
                sent = await env.get_current_time()
                await signed(tid, Pause(by=LI, reason="year-end freeze"))
                await until(program, lambda s: s.state == "paused", "the program pauses")
                await until(program, lambda s: bool(asked), "a workstream asks its program")
                lost = asked[0]
                stream = Driver(env, env.client, lost)
                await until(stream, lambda s: s.state == "paused", f"{lost} takes the relayed pause")
    assert asked.count(lost) >= 2, asked  # asked again, answered
    paused = next(r for r in trail_of(make_engine(settings.audit_url), lost) if r.kind == "paused")
    assert paused.at - sent < timedelta(seconds=23), (sent, paused.at)  # some 16 s; it took 31 s
