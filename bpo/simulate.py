"""`bpo simulate`: a plan run on Temporal's time-skipping test server before it runs for real.

Every gate is decided at a share of its phase's due time (``--decide-at``, default 50%): approvals
by as many eligible people as the gate needs, every checklist item ticked, KPI readings that meet
their SLA for as many periods as the gate counts. Nothing leaves the machine: the simulated plan
notifies through the log channel only, into a throw-away audit database. The forecast says when
the transition goes live, each phase against its due date, the escalations that would fire, the
requests and reminders people would get, the steady-state settlements, and the history's size.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel

from models.audit_events import events_of
from models.audit_events.happenings import Escalation, NotificationSent, Settled
from models.commands import Command
from models.durations import BusinessTime
from models.plan import LogChannel, Phase, Plan
from models.status import TransitionStatus
from workflows.rules.kinds import kind_of

ID = "simulated"


class PhaseForecast(BaseModel):
    """One phase (or wave) of the forecast: when it starts, is due, and passes."""

    phase: str
    started: datetime
    due: datetime | None = None
    passed: datetime | None = None


class Forecast(BaseModel):
    """What `bpo simulate` prints."""

    plan: str
    decide_at: float
    started: datetime
    go_live: datetime | None = None
    stuck: str | None = None
    phases: list[PhaseForecast] = []
    escalations: list[str] = []
    notices: dict[str, int] = {}
    settlements: int = 0
    credits: float = 0.0
    currency: str = "USD"
    history_events: int = 0
    runs: int = 0
    largest_run: int = 0
    seconds: float = 0.0


def decisions(plan: Plan, status: TransitionStatus, wave: int = 0) -> list[Command]:
    """The commands that meet every open gate of the phase under way, as eligible people would."""
    phase = next((p for p in plan.phases if p.key == status.phase), None)
    people = plan.people
    reporter = next((p.id for p in people if set(p.roles) & set(plan.kpi_reporters)), people[0].id)
    commands: list[Command] = []
    for gate in status.gates:
        spec = phase.gate(gate.key) if phase else None
        if gate.status != "open" or spec is None:
            continue
        commands += kind_of(spec).simulate(plan, spec, gate.key, wave, reporter)
    return commands


def decision_time(plan: Plan, phase: Phase, started: datetime, share: float, wave: int = 0) -> datetime:
    """When a phase's (or a wave's) gates are decided: ``share`` of its due time (spread over the
    waves), at once for a phase with no due date; a minute past, so that a decision never lands
    on the same instant as one of the transition's own timers (a weekly check-in at 150% of 14d),
    which Temporal's test server does not take."""
    part = share * (wave + 1) / (len(phase.waves) if phase.waves else 1)
    return (after(plan, phase, started, part) or started) + timedelta(minutes=1)


def after(plan: Plan, phase: Phase, started: datetime, part: float = 1.0) -> datetime | None:
    """``part`` of the phase's due time after ``started``, in wall-clock or business time."""
    if phase.due is None:
        return None
    if isinstance(phase.due, BusinessTime):
        assert plan.calendar is not None
        return plan.calendar.add(started, part * phase.due.seconds(plan.calendar.day_seconds))
    return started + phase.due * part


async def simulate(plan: Plan, decide_at: float = 0.5, years: int = 1, runtime: Any = None) -> Forecast:
    """Run ``plan`` on a time-skipping server and say what happened (the SDK's own log kept to
    errors, unless a ``runtime`` is given)."""
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
    from temporalio.testing import WorkflowEnvironment

    from bpo.api import get_status, send, start_transition
    from bpo.running import build_worker
    from bpo.server import register_search_attributes
    from infra.binaries import find_binary
    from infra.settings import Settings

    began = time.perf_counter()
    # Nothing leaves the machine: notices go to the log, and feeds are not pulled (the KPI gates
    # get simulated readings as if typed).
    quiet = plan.model_copy(update={"notifications": [LogChannel(kind="log")], "feeds": []})
    quiet_core = runtime or Runtime(
        telemetry=TelemetryConfig(logging=LoggingConfig(filter=TelemetryFilter("ERROR", "ERROR")))
    )
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=find_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
        runtime=quiet_core,
    )
    async with env:
        await register_search_attributes(env.client)
        if plan.starts_on:
            opening = datetime.combine(plan.starts_on, datetime.min.time(), tzinfo=UTC)
            if (ahead := opening - await env.get_current_time()) > timedelta(0):
                await env.sleep(ahead)
        with tempfile.TemporaryDirectory() as data, ThreadPoolExecutor(4) as pool:
            # The throw-away folder's audit database, never the deployment's DATABASE_URL (from the
            # environment or .env): a forecast neither writes a trail there, nor counts the rows of
            # an earlier forecast, nor waits on a database server that is busy or out of reach.
            # Its trail written in its own threads: a forecast has no decisions to keep quick.
            settings = Settings(
                BPO_DATA_DIR=Path(data), BPO_TASK_QUEUE="simulate", DATABASE_URL=None, BPO_AUDIT_WRITER_PROCESSES=0
            )
            async with httpx.AsyncClient() as http, build_worker(env.client, settings, http, pool):
                await start_transition(  # a forecast on a throwaway server: no one else reaches it
                    env.client, quiet, task_queue=settings.task_queue, transition_id=ID, allow_unsigned=True
                )
                forecast = Forecast(plan=plan.name, decide_at=decide_at, started=await env.get_current_time())
                await _drive(env, plan, forecast, get_status, send)
                if forecast.go_live is not None:
                    await env.sleep(timedelta(days=365 * years))
                await _tally(env, settings, forecast)
    forecast.seconds = round(time.perf_counter() - began, 2)
    return forecast


async def _drive(env: Any, plan: Plan, forecast: Forecast, get_status: Any, send: Any) -> None:
    seen: tuple[str, int, int] | None = None
    while True:
        status = await get_status(env.client, ID)
        if status.phase == "steady_state" or status.state != "running":
            forecast.go_live = status.phase_started_at if status.phase == "steady_state" else None
            _close(forecast, status)
            return
        phase = next(p for p in plan.phases if p.key == status.phase)
        key = (status.phase, status.reworks, status.wave or 0)
        if key == seen:  # decided, and still here: waiting for min_duration, or stuck
            if all(g.status != "open" for g in status.gates) and status.earliest_pass_at:
                await env.sleep(
                    max(status.earliest_pass_at - await env.get_current_time(), timedelta(0)) + timedelta(seconds=5)
                )
                continue
            forecast.stuck = f"{status.phase}: " + ", ".join(
                f"{g.key} ({g.progress})" for g in status.gates if g.status == "open"
            )
            _close(forecast, status)
            return
        seen = key
        wave = (status.wave or 1) - 1
        if wave == 0:
            _close(forecast, status)
            due = after(plan, phase, status.phase_started_at)
            forecast.phases.append(PhaseForecast(phase=phase.key, started=status.phase_started_at, due=due))
        when = decision_time(plan, phase, status.phase_started_at, forecast.decide_at, wave)
        if (wait := when - await env.get_current_time()) > timedelta(0):
            await env.sleep(wait)
        for command in decisions(plan, await get_status(env.client, ID), wave):
            await send(env.client, ID, command)


def _close(forecast: Forecast, status: TransitionStatus) -> None:
    """Note when the latest phase forecast passed, from the status's phase history."""
    if forecast.phases and forecast.phases[-1].passed is None:
        runs = [r for r in status.history if r.phase == forecast.phases[-1].phase and r.ended_at]
        if runs:
            forecast.phases[-1].passed = runs[-1].ended_at


async def _tally(env: Any, settings: Any, forecast: Forecast) -> None:
    from infra.audit import trail_of
    from infra.db import make_engine

    trail = events_of(trail_of(make_engine(settings.audit_url), ID))
    forecast.escalations = [
        f"{e.at:%Y-%m-%d} {e.phase} level {e.level}" + (f" ({e.gate})" if e.gate else "")
        for e in trail
        if isinstance(e, Escalation)
    ]
    forecast.notices = dict(
        Counter(str(e.about) for e in trail if isinstance(e, NotificationSent) and e.channel == "log")
    )
    settled = [e for e in trail if isinstance(e, Settled)]
    forecast.settlements = len(settled)
    forecast.credits = round(sum(e.credit for e in settled), 2)
    described = await env.client.get_workflow_handle(ID).describe()
    run_id = described.raw_description.workflow_execution_info.first_run_id or described.run_id
    sizes = []
    while run_id:
        history = await env.client.get_workflow_handle(ID, run_id=run_id).fetch_history()
        sizes.append(len(history.events))
        run_id = history.events[-1].workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    forecast.history_events, forecast.runs, forecast.largest_run = sum(sizes), len(sizes), max(sizes, default=0)


def forecast_text(f: Forecast) -> str:
    """The forecast as a person reads it."""
    history = (
        f"History: {f.history_events} events in {f.runs} runs (largest {f.largest_run}); simulated in {f.seconds:.1f} s"
    )
    return "\n".join([*phase_lines(f), "", *outcome_lines(f), history])


def phase_lines(f: Forecast) -> list[str]:
    """The forecast's heading, go-live and a line per phase against its due date."""
    from bpo.render import table

    out = [
        f"Forecast for '{f.plan}', every gate decided at {f.decide_at:.0%} of its phase's due time",
        f"Starts:   {f.started:%a %Y-%m-%d}",
        f"Go-live:  {f.go_live:%a %Y-%m-%d} (steady state begins)" if f.go_live else f"Go-live:  never: {f.stuck}",
        "",
    ]
    rows = []
    for p in f.phases:
        late = p.due is not None and p.passed is not None and p.passed > p.due
        verdict = "" if p.passed is None or p.due is None else ("LATE" if late else "on time")
        rows.append(
            (
                p.phase,
                f"{p.started:%Y-%m-%d}",
                f"{p.due:%Y-%m-%d}" if p.due else "-",
                f"{p.passed:%Y-%m-%d}" if p.passed else "-",
                verdict,
            )
        )
    return out + table(("PHASE", "STARTS", "DUE", "PASSES", ""), rows).splitlines()


def outcome_lines(f: Forecast) -> list[str]:
    """What the forecast's decisions would cause: escalations, people asked, settlements."""
    out = [f"Escalations that would fire: {len(f.escalations)}"] + [f"  {e}" for e in f.escalations]
    asked = f.notices.get("approval_requested", 0)
    out += [
        f"People asked to decide: {asked}; reminders: {f.notices.get('reminder', 0)}; notices in all: {sum(f.notices.values())}"
    ]
    out += [
        f"Steady state: {f.settlements} settlements, credits {f.credits:,.2f} (no readings sent: every KPI 'no data')"
    ]
    return out
