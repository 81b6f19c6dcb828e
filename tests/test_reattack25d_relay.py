"""Re-attack on issue 25's relay confirmation (branch ``reattack25d``): a workstream now asks its
program whether it relayed a command there before taking it (``confirm_relay``), but the program
answers from its record of relays *sent*, by request id, for thirty days, and the workstream
remembers a relayed request id only once it applied it. A relay the workstream noted and left
(a pause of one paused on its own, a resume of one its program did not pause) is remembered by
neither side as spent: whoever reaches Temporal's port copies it from the program's trail and
sends it again once it would apply, and the program confirms it. Here a program's resume, left
as it was while the workstream was paused on its own, later resumes the workstream while the
program is paused again. The time-skipping server, the real worker.

Since ``relay-remembered-2026-12`` a workstream remembers every relay it decided on (a copy sent
later is refused as a repeat) and holds only relays signed for its program by a key it trusts."""

from __future__ import annotations

import asyncio
import time
import uuid

from infra.audit import trail_of
from infra.db import make_engine
from models.commands import Pause, Resume
from models.program import RELAY_SIGNAL, Relayed
from tests.driver import Driver
from tests.stack import LI
from tests.test_workstreams import lane, signed_program, until


def _reasons(settings, workflow_id: str) -> list[str]:
    trail = trail_of(make_engine(settings.audit_url), workflow_id)
    return [str(r.detail.get("reason")) for r in trail if r.kind == "signal_refused"]


async def _trail_says(settings, workflow_id: str, words: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(words in r for r in _reasons(settings, workflow_id)):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never on {workflow_id}'s trail: {words}; {_reasons(settings, workflow_id)}")


async def test_a_program_resume_the_workstream_left_resumes_it_later_while_its_program_is_paused(env, worker, settings):
    tid, program, signed = await signed_program(env, settings)
    email = f"{tid}/email"
    stream = Driver(env, env.client, email)

    # Email is paused on its own; the program pauses and resumes meanwhile: both relays are noted
    # on email's trail and left as they are (email stays paused on its own).
    await signed(email, Pause(by=LI, reason="email's own freeze"))
    await signed(tid, Pause(by=LI, reason="first program freeze"))
    await _trail_says(settings, email, "pause: paused on its own")
    await signed(tid, Resume(by=LI, reason="first freeze lifted"))
    await _trail_says(settings, email, "resume: paused on its own")
    # Email's own pause ends; later the program pauses again, and email with it.
    await signed(email, Resume(by=LI, reason="email's own freeze lifted"))
    await until(stream, lambda s: s.state == "running", "email runs again")
    await signed(tid, Pause(by=LI, reason="second program freeze"))
    await until(stream, lambda s: s.state == "paused", "email paused with its program")
    assert (await program.status()).state == "paused"

    # Whoever reaches Temporal's port (or reads the audit table) copies the program's first,
    # signed resume from its trail and sends it to email as a relay: no key needed.
    rows = [r for r in trail_of(make_engine(settings.audit_url), tid) if r.kind == "resumed"]
    first = min(rows, key=lambda r: r.position or 0)
    material = {**first.detail["signed"]["fields"], "signature": first.signature}
    before = len(_reasons(settings, email))
    await env.client.get_workflow_handle(email).signal(
        RELAY_SIGNAL, Relayed(update="resume", command=material, to=[email])
    )
    # Wait for email to settle the relay: refused on its trail, or taken (it runs).
    deadline = time.monotonic() + 60
    status = await stream.status()
    while time.monotonic() < deadline:
        status = await stream.status()
        if status.state == "running" or len(_reasons(settings, email)) > before:
            break
        await asyncio.sleep(0.05)
    assert (await program.status()).state == "paused"
    assert status.state == "paused", "a resume the workstream left earlier resumed it while its program is paused"


async def test_a_flood_of_unsigned_relays_makes_a_workstream_drop_its_programs_pause(env, worker, settings):
    tid, program, signed = await signed_program(env, settings)
    email = f"{tid}/email"
    stream = Driver(env, env.client, email)

    # Whoever reaches Temporal's port, with no key, keeps email's relays waiting for confirmation
    # full: each unsigned relay is held (up to 20) until email's program says it never sent it.
    handle = env.client.get_workflow_handle(email)
    flooding = True

    async def flood() -> None:
        while flooding:
            junk = [
                Relayed(update="pause", command={"by": LI, "reason": "x", "request_id": uuid.uuid4().hex}, to=[email])
                for _ in range(25)
            ]
            await asyncio.gather(*(handle.signal(RELAY_SIGNAL, j) for j in junk))
            await asyncio.sleep(0.2)  # more than the old 20 places a batch, without starving a loaded machine

    flooder = asyncio.create_task(flood())
    try:
        await asyncio.sleep(1)
        # The program's sponsor pauses the program, signed: the relay to email is its own.
        await signed(tid, Pause(by=LI, reason="client freeze over year end"))
        assert (await program.status()).state == "paused"
        # Email follows its program while the flood goes on, and its program hears of it.
        status = await stream.status()
        deadline = time.monotonic() + 30
        while status.state != "paused" and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            status = await stream.status()
        assert status.state == "paused", "the program's own pause never reached email"
        await until(program, lambda s: lane(s, "email")[0] == "paused", "email reports its pause to its program")
    finally:
        flooding = False
        await flooder
    # The unsigned relays were refused as they came, never held.
    assert any("not signed by a trusted key" in r for r in _reasons(settings, email))
    assert not any("already wait" in r for r in _reasons(settings, email))
