"""Two short scenarios of `simulate.py` that live on time: a transition on business time (a
Berlin calendar, business-hour dues, ladders and reminders, a pause that stops the business
clock), and a webhook that cannot be reached for days (notices waiting in the carried state)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from bpo.api import send, start_transition
from models.commands import Approve, Cancel, Pause, Resume, RetryNotices
from models.plan import WebhookChannel
from models.plan_loader import load_plan, parse_plan

PLAN = Path(__file__).resolve().parent / "reference-plan.yaml"
LI, DANA = "li@acme.example", "dana@acme.example"

CALENDAR = """
calendar: {timezone: Europe/Berlin, hours: "09:00-17:00", holidays: [2027-01-01, 2027-04-05, 2027-12-24]}
reminders: {every: 4bh}

phases:
"""
PLANNING = """due: 3bd
    warn_at: 50%
    escalation: [{after: 1bh, notify: [executive_sponsor], health: escalated}]
    gates:"""
SLAS = """approvers: {roles: [executive_sponsor, transition_lead], rule: all}
        due: 1bd
        escalation: [{after: 2bh, notify: [program_manager]}]"""


async def drive_calendar(env: WorkflowEnvironment, task_queue: str) -> str:
    """A transition on business time: a Berlin calendar with holidays, planning due in 3bd with a
    warning at half of it and a ladder in business hours, a gate with its own due and ladder,
    reminders every four business hours, and a pause that stops the business clock."""
    text = PLAN.read_text().replace("\nphases:\n", CALENDAR, 1).replace("due: 14d\n    gates:", PLANNING, 1)
    plan = parse_plan(text.replace("approvers: {roles: [executive_sponsor, transition_lead], rule: all}", SLAS, 1)).plan
    tid = await start_transition(env.client, plan, task_queue=task_queue, transition_id="acme-calendar")
    await send(env.client, tid, Approve(gate="gap_analysis_approved", by=LI))
    await env.sleep(timedelta(days=2))
    await send(env.client, tid, Pause(by=LI, reason="client works council"))
    await env.sleep(timedelta(days=1))
    await send(env.client, tid, Resume(by=LI))
    await env.sleep(timedelta(days=6))
    await send(env.client, tid, Approve(gate="slas_signed", by=DANA))
    await send(env.client, tid, Cancel(by=DANA, reason="simulation over"))
    return tid


async def drive_pending(env: WorkflowEnvironment, task_queue: str) -> str:
    """A webhook that cannot be reached for days: notices wait in the carried state and are tried
    again, the run continues as new with them pending, they are given up (after the 6h this
    simulation's worker allows), sent again on request, and the transition's end waits for the
    last tries."""
    down = WebhookChannel(kind="webhook", url="http://127.0.0.1:9/unreachable")  # nothing listens
    plan = load_plan(PLAN, env={}).plan
    plan = plan.model_copy(update={"notifications": [*plan.notifications, down]})
    tid = await start_transition(env.client, plan, task_queue=task_queue, transition_id="acme-pending")
    await send(env.client, tid, Approve(gate="gap_analysis_approved", by=LI))
    await env.sleep(timedelta(hours=8))
    await send(env.client, tid, RetryNotices(by=LI))
    await send(env.client, tid, Cancel(by=DANA, reason="simulation over"))
    await env.sleep(timedelta(hours=8))
    return tid
