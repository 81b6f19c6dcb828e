"""Attack on relayed commands (issue 25, branch ``attack25d``): a program's command relayed to a
workstream is checked for its signature (the program's id and run family), a repeated request id
and its time against the workstream's start (`RELAY_SLACK`, ten minutes), never against what the
program did after it. A grant the program's sponsor made and then took back, both before a
workstream started, is in neither that workstream's roster (it starts with the program's roster
as it stands) nor its request ids: whoever reaches Temporal's port reads the signed grant from the
program's trail or history and sends it to the new workstream as a ``program_relay`` signal, and
the revoked grant was applied there again. Now the workstream asks its program first
(``confirm_relay``); the program relayed that grant to email only, so chat refuses it and says so
on its trail. The time-skipping server, the real worker."""

from __future__ import annotations

import asyncio
import time

from infra.audit import trail_of
from infra.db import make_engine
from models.commands import ChangeRoster, RecordReadings, Tick
from models.plan import Person
from models.program import RELAY_SIGNAL, Relayed
from tests.stack import DANA, EVE, LI
from tests.test_workstreams import GOOD, lane, signed_program, until

LI_ENTRY = Person(id=LI, name="Li Chen", org="client", roles=["program_manager", "point_of_contact"])


async def roster(env, workflow_id: str) -> dict[str, list[str]]:
    people = await env.client.get_workflow_handle(workflow_id).query("roster", result_type=list[Person])
    return {p.id: list(p.roles) for p in people}


async def test_a_revoked_program_grant_relayed_to_a_workstream_started_after_is_refused(env, worker, settings):
    tid, program, signed = await signed_program(env, settings)
    # The sponsor makes Li an executive sponsor, then takes it back: both signed, both relayed.
    grant = LI_ENTRY.model_copy(update={"roles": [*LI_ENTRY.roles, "executive_sponsor"]})
    await signed(tid, ChangeRoster(add=[grant], by=DANA))
    await signed(tid, ChangeRoster(add=[LI_ENTRY], by=DANA))
    assert "executive_sponsor" not in (await roster(env, tid))[LI]

    # Email through its pilot: chat starts, with the program's roster as it stands.
    email = f"{tid}/email"
    await signed(email, Tick(gate="process_maps", item="email_support", by=EVE))
    for period in ("W1", "W2"):
        await signed(email, RecordReadings(period=period, values=GOOD, by=LI))
    await until(program, lambda s: lane(s, "chat")[0] == "running", "chat starts after email's pilot")
    chat = f"{tid}/chat"
    assert "executive_sponsor" not in (await roster(env, chat))[LI]

    # Whoever reaches Temporal's port (or reads the audit table) takes the signed grant...
    rows = [r for r in trail_of(make_engine(settings.audit_url), tid) if r.kind == "roster_changed"]
    first = min(rows, key=lambda r: r.position or 0)
    material = {**first.detail["signed"]["fields"], "signature": first.signature}
    # ...and relays it to the workstream that started after it was revoked.
    await env.client.get_workflow_handle(chat).signal(
        RELAY_SIGNAL, Relayed(update="change_roster", command=material, to=[chat])
    )
    refused: list[str] = []
    deadline = time.monotonic() + 60
    while not refused and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        trail = trail_of(make_engine(settings.audit_url), chat)
        refused = [
            r.detail["reason"] for r in trail if r.kind == "signal_refused" and "change_roster" in r.detail["reason"]
        ]
    assert refused and "not to this one" in refused[0], refused
    assert "executive_sponsor" not in (await roster(env, chat))[LI], "the revoked grant was applied again"
