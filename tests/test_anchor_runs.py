"""The audit chain's head the transition records survives continue-as-new: the newest run's
input carries it, so a rebuilt chain is caught even once earlier runs' histories are gone."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from bpo.anchors import recorded_heads
from infra.audit import read_chain
from infra.chain import hold_to_heads, verify_chain
from infra.db import make_engine
from models.messages import StartTransition
from tests.test_audit_anchor import rebuild


async def test_the_recorded_head_survives_continue_as_new_and_catches_a_rebuilt_chain(t, client, settings):
    await t.reach("steady_state")
    for _ in range(12):  # steady-state quarters, until the run's history reaches its budget
        await t.sleep(days=91)
        if (status := await t.status()).runs > 1:
            break
    assert status.runs > 1
    assert status.audit_head is not None and status.audit_head.position > 10

    newest = await client.get_workflow_handle(t.id).fetch_history()
    started = newest.events[0].workflow_execution_started_event_attributes
    [start] = await client.data_converter.decode(started.input.payloads, [StartTransition])
    carried = start.state.audit_head  # what the run before this one recorded last
    assert carried is not None and carried.position <= status.audit_head.position

    engine = make_engine(settings.audit_url)
    with Session(engine) as session:
        rows = read_chain(t.id, session=session)
    heads = await recorded_heads(client, t.id)
    assert carried in heads and status.audit_head in heads
    assert verify_chain(rows).problem is None and hold_to_heads(rows, heads) is None

    def backdate(chain: list) -> int:
        chain[1].at -= timedelta(days=1)
        return 2

    rebuild(settings.audit_url, t.id, backdate)
    with Session(engine) as session:
        rows = read_chain(t.id, session=session)
    assert verify_chain(rows).problem is None  # the chain links again: only the head tells
    problem = hold_to_heads(rows, [carried])  # as if every earlier run were past retention
    assert problem is not None
    assert problem.endswith(f"does not match the chain head the transition recorded at position {carried.position}")
