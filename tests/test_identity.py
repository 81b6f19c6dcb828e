"""Repeats, one id per transition and commands as signals, through the real workflow on the
time-skipping server."""

from __future__ import annotations

import asyncio
import uuid

from sqlmodel import Session

from bpo.api import BpoError, start_transition
from infra.audit import read_trail
from infra.db import make_engine
from models.commands import Approve, Cancel, Note, Pause
from tests.driver import DANA, LI, MO, Driver
from workflows.rules.machine import run_key_of


async def test_a_retried_update_without_a_request_id_counts_once(t):
    handle = t.client.get_workflow_handle(t.id)
    approve = Approve(gate="slas_signed", by=DANA)
    for _ in range(2):  # the same Temporal update id twice, as a client's retry sends it
        await handle.execute_update("approve", approve, id="retry-1")
    decisions = [d for d in (await t.status()).decisions if d.kind == "approved"]
    assert len(decisions) == 1


async def test_an_ended_transition_id_is_reused_only_on_purpose_and_the_new_rows_never_collide(
    env, worker, settings, reference_plan
):
    tid = f"t-{uuid.uuid4().hex[:8]}"
    await start_transition(env.client, reference_plan, task_queue=settings.task_queue, transition_id=tid)
    t = Driver(env, env.client, tid)
    try:
        await start_transition(env.client, reference_plan, task_queue=settings.task_queue, transition_id=tid)
        raise AssertionError("a running transition's id was reused")
    except BpoError as refused:
        assert "already exists and is running" in str(refused)
    await t.do(Cancel(by=DANA, reason="wrong plan"))
    try:
        await start_transition(env.client, reference_plan, task_queue=settings.task_queue, transition_id=tid)
        raise AssertionError("an ended transition's id was reused without --replace-ended")
    except BpoError as refused:
        assert "--replace-ended" in str(refused)
    first = (await env.client.get_workflow_handle(tid).describe()).run_id
    await start_transition(
        env.client, reference_plan, task_queue=settings.task_queue, transition_id=tid, replace_ended=True
    )
    second = (await env.client.get_workflow_handle(tid).describe()).run_id
    assert first != second and (await t.status()).state == "running"
    rows = await trail(settings, tid, lambda rows: sum(r.kind == "transition_started" for r in rows) == 2)
    starts = [r.event_id for r in rows if r.kind == "transition_started"]
    assert starts == [f"{tid}/{run_key_of(first)}/1", f"{tid}/{run_key_of(second)}/1"]


async def trail(settings, tid: str, done, seconds: float = 10.0):
    """The audit trail once ``done(rows)`` holds; the outbox writes it a moment after a decision."""
    engine = make_engine(settings.audit_url)
    for _ in range(int(seconds / 0.1)):
        with Session(engine) as session:
            rows = read_trail(tid, session=session)
        if done(rows):
            return rows
        await asyncio.sleep(0.1)
    raise AssertionError(f"the trail never got there: {[r.kind for r in rows]}")


async def test_a_command_sent_as_a_signal_is_applied_and_a_refused_one_is_audited_and_told(t, settings):
    handle = t.client.get_workflow_handle(t.id)
    await handle.signal("approve", Approve(gate="gap_analysis_approved", by=LI))
    await handle.signal("pause", Pause(by=MO, reason="not mine to pause"))
    await handle.signal("approve", {"gate": "slas_signed"})  # no one named
    status = await t.status()
    assert t.gate(status, "gap_analysis_approved").status == "passed"
    assert status.state == "running"
    assert [d.kind for d in status.decisions] == ["approved"]
    def settled(rows) -> bool:  # the refusals, and the word to Mo delivered after them
        told = [r for r in rows if r.kind == "notification_sent" and r.detail["about"] == "signal_refused"]
        return sum(r.kind == "signal_refused" for r in rows) == 2 and bool(told)

    rows = await trail(settings, t.id, settled)
    refused = [(r.actor, r.detail["refusal"]) for r in rows if r.kind == "signal_refused"]
    assert refused == [(MO, "NotAllowed"), (None, "BadInput")]
    told = [r.detail for r in rows if r.kind == "notification_sent" and r.detail["about"] == "signal_refused"]
    assert [d["recipients"] for d in told] == [[MO]]


async def test_a_command_taken_only_as_an_update_sent_as_a_signal_is_refused_saying_to_send_it_as_one(t, settings):
    handle = t.client.get_workflow_handle(t.id)
    await handle.signal("note", Note(by=LI, text="sent the wrong way"))
    await handle.signal("frobnicate", {"by": LI})

    rows = await trail(settings, t.id, lambda rows: sum(r.kind == "signal_refused" for r in rows) == 2)
    reasons = [r.detail["reason"] for r in rows if r.kind == "signal_refused"]
    assert reasons[0] == "'note' is not taken as a signal; send it as an update (bpo note)"
    assert reasons[1].startswith("no command is called 'frobnicate'; commands: approve,")
