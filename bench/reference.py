"""`bench.run`'s fourth measure: the reference plan driven to steady state through its happy path
(minimum durations cut), and the size of the history it leaves."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from temporalio.client import Client

from bpo.api import get_status, send, start_transition
from models.commands import Approve, RecordReadings, Tick
from models.plan_loader import load_plan
from tests.stack import short_plan


async def reference_history(c: Client, tmp: Path, start: dict[str, Any]) -> dict[str, Any]:
    """The reference plan to steady state through its happy path (minimum durations cut)."""
    plan = load_plan(short_plan(tmp), env={}).plan
    tid = await start_transition(c, plan, **start, transition_id="bench-reference")
    li, dana, eve, raj, mo = (
        "li@acme.example",
        "dana@acme.example",
        "eve@acme.example",
        "raj@northstar.example",
        "mo@northstar.example",
    )
    good = {"csat": 90.0, "error_rate": 1.5, "first_response_hours": 3.0}
    steps: list[Any] = [
        Approve(gate="gap_analysis_approved", by=li),
        Approve(gate="slas_signed", by=dana),
        Approve(gate="slas_signed", by=raj),
        *[
            Tick(gate="governance_defined", item=i, by=li)
            for i in ("raci", "escalation_matrix", "communication_protocol", "knowledge_base")
        ],
        Approve(gate="kickoff_held", by=li, evidence="MIN-1"),
        Approve(gate="kickoff_held", by=raj, evidence="MIN-1"),
        Tick(gate="process_maps", item="email_support", by=eve),
        Tick(gate="process_maps", item="chat_support", by=eve),
        Approve(gate="training_signed_off", by=mo),
        Approve(gate="training_signed_off", by=eve),
        RecordReadings(period="C1", values={"assessment_score": 88}, by=li),
        RecordReadings(period="W1", values=good, by=li),
        RecordReadings(period="W2", values=good, by=li),
        Approve(gate="pilot_go", by=dana),
    ]
    for command in steps:
        await send(c, tid, command)
    while (await get_status(c, tid)).phase != "ramp":
        await asyncio.sleep(0.5)
    for wave in range(3):
        await send(c, tid, RecordReadings(period=f"R{wave}", values={**good, "fcr": 75}, by=li))
        await send(c, tid, Approve(gate="wave_approved", by=li))
        await send(c, tid, Approve(gate="wave_approved", by=raj))
    for item in ("shared_calendar", "collaboration_tools", "cultural_orientation", "feedback_channel"):
        await send(c, tid, Tick(gate="integration_done", item=item, by=raj))
    for period in ("H1", "H2"):
        await send(c, tid, RecordReadings(period=period, values={**good, "fcr": 75}, by=li))
    await send(c, tid, Approve(gate="hypercare_exit", by=dana))
    await send(c, tid, Approve(gate="hypercare_exit", by=raj))
    while (await get_status(c, tid)).phase != "steady_state":
        await asyncio.sleep(0.5)
    await asyncio.sleep(1)
    history = await c.get_workflow_handle(tid).fetch_history()
    return {
        "reference_to_steady_state_events": len(history.events),
        "reference_to_steady_state_kb": round(sum(e.ByteSize() for e in history.events) / 1024, 1),
        "decisions": len(steps) + 13,
    }
