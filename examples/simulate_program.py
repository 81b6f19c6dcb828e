"""A scenario of `simulate.py`: the example program (email, chat and voice of a contact centre)
through its workstreams, every command signed: chat waits for email's pilot, a roster change and
a pause and resume of the program reach every workstream, a rejection reworks email alone, voice
is cancelled on its own (and left out of the program's gate), and the program's gate passes once
the others are done; the program is then cancelled, so its history ends."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from bpo.api import BpoError, get_status, send, start_transition
from models.commands import Approve, Cancel, ChangeRoster, Pause, RecordReadings, Reject, Resume, Tick
from models.plan import Person
from models.plan_loader import load_plan
from models.signing import Signer, new_key_pair
from models.status import TransitionStatus

PLAN = Path(__file__).resolve().parent / "program-plan.yaml"
LI, DANA, EVE, RAJ = "li@acme.example", "dana@acme.example", "eve@acme.example", "raj@northstar.example"
GOOD = {"csat": 91.0, "aht": 6.5}
WORKSTREAMS = ("email", "chat", "voice")


async def until(env: WorkflowEnvironment, tid: str, holds: Callable[[TransitionStatus], bool]) -> TransitionStatus:
    """The status of ``tid`` once ``holds``: workstreams start and report by signals, a moment later."""
    for _ in range(400):
        try:
            status = await get_status(env.client, tid)
        except BpoError:  # not started yet
            status = None
        if status is not None and holds(status):
            return status
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{tid} never reached the state the scenario waits for")


async def drive_program(env: WorkflowEnvironment, task_queue: str) -> str:
    """The example program, driven through its workstreams; returns the program's id."""
    signer = Signer(new_key_pair()[0])
    pid = await start_transition(
        env.client,
        load_plan(PLAN, env={}).plan,
        task_queue=task_queue,
        transition_id="acme-program",
        trusted_keys=[signer.public_key],
        signer=signer,
        signed_at=await env.get_current_time(),
    )

    async def do(tid: str, *commands: object) -> TransitionStatus:
        status = None
        for command in commands:
            status = await send(env.client, tid, command, signer, signed_at=await env.get_current_time())  # type: ignore[arg-type]
        assert status is not None
        return status

    def lane(key: str, *states: str) -> Callable[[TransitionStatus], bool]:
        return lambda s: next(w for w in s.workstreams if w.key == key).state in states

    email, chat, voice = (f"{pid}/{k}" for k in WORKSTREAMS)
    await do(pid, Approve(gate="contract_signed", by=DANA))
    await until(env, pid, lane("voice", "running"))
    await until(env, pid, lane("email", "running"))
    await do(email, Tick(gate="process_maps", item="email_support", by=EVE))
    await do(email, *(RecordReadings(period=p, values=GOOD, by=LI) for p in ("W1", "W2")))
    await until(env, pid, lane("chat", "running"))

    sme = Person(id="ana@northstar.example", name="Ana Ruiz", org="provider", roles=["sme"])
    await do(pid, ChangeRoster(add=[sme], by=RAJ))  # relayed: Ana ticks chat's map below
    await do(pid, Pause(by=LI, reason="year-end freeze"))  # relayed after the roster change
    for tid in (email, chat, voice):
        await until(env, tid, lambda s: s.state == "paused")
    await do(pid, Resume(by=LI, reason="freeze lifted"))
    for tid in (email, chat, voice):
        await until(env, tid, lambda s: s.state == "running")

    await do(email, Reject(gate="hypercare_exit", by=DANA, reason="backlog too high"))  # email back to pilot
    await do(voice, Cancel(by=DANA, reason="voice stays in house"))
    await do(chat, Tick(gate="process_maps", item="chat_support", by=sme.id))
    for tid, periods in ((email, ("W3", "W4")), (chat, ("W3", "W4"))):
        await do(tid, *(RecordReadings(period=p, values=GOOD, by=LI) for p in periods))
        await do(tid, Approve(gate="hypercare_exit", by=DANA))
    await until(env, pid, lambda s: s.phase == "steady_state")
    await do(pid, Cancel(by=DANA, reason="simulation over"))
    return pid
