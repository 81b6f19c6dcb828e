"""Run the reference plan through every feature on Temporal's time-skipping server.

Rework, a pause, escalations, waves, hypercare, then steady state with settlements and breaches:
what a transition lives through in months and years, in seconds. It writes what it was asked to:

    python examples/simulate.py --years 3 --report docs/report-example.html --history tests/histories/

``--report`` writes the HTML report of the run; ``--history`` saves every run's event history as
JSON (the replay corpus of tests/test_replay.py); the figures (timings, history sizes) print at the
end, and ``--json-out FILE`` writes them to a file as well: that file is what `make bench` reads,
since stdout also carries what the scenarios and the SDK log.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulate_feeds import (  # noqa: E402
    TOKEN_SETTING,
    WAREHOUSE_SETTING,
    drive_feeds,
    local_connections,
    platform,
    warehouse,
    weeks_from,
)
from simulate_program import WORKSTREAMS, drive_program  # noqa: E402
from simulate_time import drive_calendar, drive_pending  # noqa: E402
from temporalio.client import WorkflowHistory  # noqa: E402
from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

from bpo.api import first_run, get_plan, get_status, send, start_transition  # noqa: E402
from bpo.running import build_worker  # noqa: E402
from bpo.server import register_search_attributes  # noqa: E402
from infra.binaries import find_binary  # noqa: E402
from infra.logs import configure  # noqa: E402
from infra.settings import Settings  # noqa: E402
from models.commands import (  # noqa: E402
    Amend,
    Approve,
    Cancel,
    ChangeRoster,
    Delegate,
    Escalate,
    Pause,
    RaidAdd,
    RaidClose,
    ReadingsBatch,
    RecordCost,
    RecordReadings,
    Reject,
    Resume,
    RetryNotices,
    Tick,
    TrustKeys,
    Waive,
)
from models.feeds import period_of  # noqa: E402
from models.gates import Reminders  # noqa: E402
from models.messages import StartTransition  # noqa: E402
from models.money import BusinessCase  # noqa: E402
from models.plan import Person, WebhookChannel  # noqa: E402
from models.plan_loader import load_plan  # noqa: E402
from models.signing import Signer, new_key_pair  # noqa: E402

# A simulation on a throwaway server: its unsigned transitions are a trial (bpo.api.NO_KEY).
os.environ.setdefault("BPO_ALLOW_UNSIGNED", "1")

PLAN = Path(__file__).resolve().parent / "reference-plan.yaml"
LI, DANA, EVE, RAJ, MO = (
    "li@acme.example",
    "dana@acme.example",
    "eve@acme.example",
    "raj@northstar.example",
    "mo@northstar.example",
)
GOOD = {"csat": 90.0, "error_rate": 1.5, "first_response_hours": 3.0, "fcr": 75.0}


async def drive(env: WorkflowEnvironment, tid: str, years: int) -> None:
    """Every kind of event the reference plan can see, in the order a real transition might."""
    c = env.client

    async def do(*commands: object) -> None:
        for command in commands:
            await send(c, tid, command)

    async def sleep(**kw: float) -> None:
        await env.sleep(timedelta(**kw))

    await sleep(days=3)
    await do(Approve(gate="gap_analysis_approved", by=LI, note="gap analysis v3"))
    await do(Approve(gate="slas_signed", by=DANA), Approve(gate="slas_signed", by=RAJ))
    await sleep(days=15)  # planning runs late: escalation level 1 (2d past due)
    await do(
        *[
            Tick(gate="governance_defined", item=i, by=LI)
            for i in ("raci", "escalation_matrix", "communication_protocol", "knowledge_base")
        ]
    )
    await sleep(days=4)
    await do(*[Approve(gate="kickoff_held", by=p, evidence="minutes KO-2027-01 in the DMS") for p in (LI, RAJ)])
    for attempt in (1, 2):
        await sleep(days=10)
        await do(
            Tick(gate="process_maps", item="email_support", by=EVE),
            Tick(gate="process_maps", item="chat_support", by=EVE),
        )
        await do(Approve(gate="training_signed_off", by=MO), Approve(gate="training_signed_off", by=EVE))
        await do(RecordReadings(period=f"cert-{attempt}", values={"assessment_score": 84 + attempt}, by=LI))
        pilot = {k: v for k, v in GOOD.items() if k != "fcr"}
        for week in (1, 2, 3):
            await sleep(days=7)
            values = {**pilot, "error_rate": 2.6} if (attempt, week) == (1, 1) else pilot
            await do(RecordReadings(period=f"pilot{attempt}-W{week}", values=values, by=LI))
        if attempt == 1:
            await do(Reject(gate="pilot_go", by=DANA, reason="chat agents not ready; retrain on refunds"))
    await sleep(days=5)
    await do(Pause(by=LI, reason="client peak season freeze"))
    await sleep(days=14)
    await do(Resume(by=LI, reason="freeze over"))
    await do(Approve(gate="pilot_go", by=DANA, note="pilot signed off at steering committee"))
    await sleep(days=8)
    for wave in (1, 2, 3):
        await sleep(days=12)
        await do(RecordReadings(period=f"ramp-{wave}", values=GOOD, by=LI))
        await do(Approve(gate="wave_approved", by=LI), Approve(gate="wave_approved", by=RAJ))
    for item in ("shared_calendar", "collaboration_tools", "cultural_orientation", "feedback_channel"):
        await do(Tick(gate="integration_done", item=item, by=RAJ))
    for week in (1, 2):
        await sleep(days=7)
        await do(RecordReadings(period=f"hc-W{week}", values=GOOD, by=LI))
    await do(Approve(gate="hypercare_exit", by=DANA), Approve(gate="hypercare_exit", by=RAJ))
    await sleep(days=20)
    for month in range(1, 12 * years + 1):
        if (await get_status(c, tid)).state != "running":  # the contract's `until` came first
            break
        values = dict(GOOD)
        if month % 5 == 2:
            values["csat"] = 83.0
        if month % 7 == 3:
            values["error_rate"] = 2.4
        if month % 4 == 0:
            values["csat"] = 93.0
        await do(RecordReadings(period=f"M{month}", values=values, by=LI))
        await sleep(days=30)


async def drive_controls(env: WorkflowEnvironment, plan, task_queue: str) -> str:
    """A short transition through what the reference run does not see: signed commands, a roster
    change, a waiver, a batch of readings and a correction, commands as signals (one refused), a
    repeated request, a notification refused for good and sent again on request, an amendment
    proposed and approved, RAID items (one
    holding a gate until it is closed), a cost recorded against the business case, reminders, a breach during a phase, a
    delegation used and ended, an escalation by hand, and a cancellation."""
    signer = Signer(new_key_pair()[0])
    refused_hook = WebhookChannel(kind="webhook", url="http://hooks.example/bpo")  # plain HTTP off-machine
    reminders = Reminders(every=timedelta(days=1))
    case = BusinessCase(currency="USD", annual_savings=Decimal(1200000), one_off_costs=Decimal(150000))
    plan = plan.model_copy(
        update={"notifications": [*plan.notifications, refused_hook], "reminders": reminders, "business_case": case}
    )
    tid = await start_transition(
        env.client,
        plan,
        task_queue=task_queue,
        transition_id="acme-controls",
        trusted_keys=[signer.public_key],
        signer=signer,
        signed_at=await env.get_current_time(),  # the server's clock runs ahead of this machine's
    )
    handle = env.client.get_workflow_handle(tid)

    async def do(*commands: object, request_id: str | None = None) -> None:
        for command in commands:
            at = await env.get_current_time()  # the test server's clock, moved by env.sleep
            await send(env.client, tid, command, signer, update_id=request_id, signed_at=at)  # type: ignore[arg-type]

    sme = Person(id="ana@northstar.example", name="Ana Ruiz", org="provider", roles=["sme"])
    await do(ChangeRoster(add=[sme], by=RAJ))
    running = await get_plan(env.client, tid)
    longer = [
        p.model_copy(update={"due": timedelta(days=45)}) if p.key == "knowledge_transfer" else p for p in running.phases
    ]
    await do(Amend(plan=running.model_copy(update={"phases": longer}), reason="more time for training", by=LI))
    await do(Approve(gate="gap_analysis_approved", by=LI), request_id="controls-1")
    await do(Approve(gate="gap_analysis_approved", by=LI), request_id="controls-1")  # a retry: counts once
    await do(Waive(gate="governance_defined", by=DANA, reason="governance pack signed on paper"))
    await do(Delegate(person=RAJ, to=MO, until=date(2027, 1, 31), by=RAJ))
    signed = signer.sign(
        tid,
        Approve(gate="slas_signed", by=DANA, request_id="sig-1"),
        await first_run(env.client, tid),
        await env.get_current_time(),
    )
    await handle.signal("approve", signed)
    await do(TrustKeys(add=[new_key_pair()[1]], by=LI))  # a second key trusted beside the first
    mine = Pause(by=MO, reason="not mine to pause", request_id="sig-2")
    refused = signer.sign(tid, mine, await first_run(env.client, tid), await env.get_current_time())
    await handle.signal("pause", refused)  # refused, and its request id remembered
    await handle.signal("pause", refused)  # sent again from its record: refused as refused before
    await env.sleep(timedelta(hours=1))
    await do(Approve(gate="slas_signed", by=MO))  # for Raj
    await do(Delegate(person=RAJ, end=True, by=RAJ))
    await do(Approve(gate="amendment_1", by=DANA, note="agreed in steering"))
    await do(RaidAdd(kind="risk", title="Attrition in the provider's team", owner=RAJ, severity="high", by=LI))
    await do(RaidAdd(kind="action", title="Book the kickoff venue", owner=LI, blocks="kickoff_held", by=RAJ))
    await do(*[Approve(gate="kickoff_held", by=p, evidence="MIN-7") for p in (LI, RAJ)])  # held by A-2
    await do(RaidClose(item="A-2", note="venue booked", by=LI))
    await do(RecordCost(amount=Decimal("1250.50"), category="travel", note="kickoff travel", by=DANA))
    await do(
        ReadingsBatch(
            batches=[RecordReadings(period=f"cert-{n}", values={"assessment_score": 70.0 + n}, by=LI) for n in (1, 2)]
        )
    )
    await do(RecordReadings(period="cert-2", values={"assessment_score": 88.0}, by=LI, correct=True, reason="regraded"))
    await env.sleep(timedelta(days=2))
    await do(Escalate(by=LI, reason="the provider's trainers are late"))
    await do(RetryNotices(by=LI))  # the refused hook's notices, sent again (and refused again)
    await do(Cancel(by=DANA, reason="simulation over"))
    return tid


async def save_runs(env: WorkflowEnvironment, tid: str, folder: Path | None, name: str) -> int:
    """Write every run of ``tid`` as ``NAME-run-NN.json`` in ``folder``; returns the event count."""
    described = await env.client.get_workflow_handle(tid).describe()
    run_id, n, events = described.raw_description.workflow_execution_info.first_run_id or described.run_id, 0, 0
    while run_id:
        history = await env.client.get_workflow_handle(tid, run_id=run_id).fetch_history()
        n, events = n + 1, events + len(history.events)
        if folder:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{name}-run-{n:02d}.json").write_text(history.to_json())
        run_id = history.events[-1].workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    return events


def in_steady_state(history: WorkflowHistory, phases: int) -> bool:
    """Whether a run began in steady state, from the state its start carried."""
    started = history.events[0].workflow_execution_started_event_attributes
    start = pydantic_data_converter.payload_converter.from_payload(started.input.payloads[0], StartTransition)
    return start.state is not None and start.state.phase_index >= phases


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=3, help="years of steady state to run")
    parser.add_argument("--until", type=date.fromisoformat, help="replace the plan's steady_state.until")
    parser.add_argument("--report", type=Path, help="write the HTML report here")
    parser.add_argument("--history", type=Path, help="save each run's history as JSON in this folder")
    parser.add_argument("--json-out", type=Path, help="also write the figures printed at the end to this file")
    parser.add_argument(
        "--scenario",
        choices=["all", "reference", "controls", "calendar", "pending", "feeds", "program"],
        default="all",
        help="which transitions to run",
    )
    args = parser.parse_args()
    configure("auto", "warning")  # logs go to stderr: stdout is the JSON a benchmark reads

    began = time.perf_counter()
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=find_binary("temporal-test-server"), data_converter=pydantic_data_converter
    )
    async with env:
        await register_search_attributes(env.client)
        weeks = weeks_from(period_of(await env.get_current_time(), "weekly"), 4)
        with tempfile.TemporaryDirectory() as data, ThreadPoolExecutor(4) as pool, platform(weeks) as (base, up):
            connections = local_connections(base, Path(data))
            settings = Settings(
                BPO_DATA_DIR=Path(data),
                DATABASE_URL=None,  # the throw-away folder's audit database, whatever the environment says
                BPO_TASK_QUEUE="simulate",
                BPO_AUDIT_WRITER_PROCESSES=0,  # its trail in its own threads: no decisions to keep quick
                BPO_DELIVERY_GIVE_UP="6h",
                BPO_CONNECTIONS=connections,
                BPO_FETCH_ALLOW="127.0.0.0/8",  # the simulated platform and its evidence are on loopback
            )
            os.environ[WAREHOUSE_SETTING] = warehouse(Path(data) / "warehouse.db", weeks)
            os.environ[TOKEN_SETTING] = "simulated-token"
            async with httpx.AsyncClient() as http, build_worker(env.client, settings, http, pool):
                plan = load_plan(PLAN, env={}).plan
                if args.until and plan.steady_state:
                    terms = plan.steady_state.model_copy(update={"until": args.until})
                    plan = plan.model_copy(update={"steady_state": terms})
                scenarios = {
                    "program": lambda: drive_program(env, settings.task_queue),
                    "feeds": lambda: drive_feeds(env, settings.task_queue, base, up, connections),
                    "pending": lambda: drive_pending(env, settings.task_queue),
                    "calendar": lambda: drive_calendar(env, settings.task_queue),
                    "controls": lambda: drive_controls(env, plan, settings.task_queue),
                }
                for name, scenario in scenarios.items():
                    if args.scenario in ("all", name):
                        tid = await scenario()
                        events = await save_runs(env, tid, args.history, name)
                        if name == "program":  # and each of its workstreams
                            for key in WORKSTREAMS:
                                events += await save_runs(env, f"{tid}/{key}", args.history, f"program-{key}")
                        if args.scenario == name:
                            emit({f"{name}_events": events}, args.json_out)
                            return
                # As `bpo start` starts it: each decision's flush held a moment. The other
                # scenarios flush at once: the time-skipping server fails a workflow task when a
                # timer fires as an update arrives, and their updates come quickly.
                tid = await start_transition(
                    env.client,
                    plan,
                    task_queue=settings.task_queue,
                    transition_id="acme-simulated",
                    **settings.flush_timing,
                )
                first_run = (await env.client.get_workflow_handle(tid).describe()).run_id
                started = time.perf_counter()
                await drive(env, tid, args.years)
                status = await get_status(env.client, tid)
                simulated = time.perf_counter() - started
                if args.report:
                    from bpo.report import render_report
                    from infra.audit import trail_of
                    from infra.db import make_engine

                    trail = trail_of(make_engine(settings.audit_url), tid)
                    now = await env.get_current_time()
                    args.report.write_text(
                        render_report(await get_plan(env.client, tid), status, trail, now.astimezone(UTC))
                    )
                runs, run_id = [], first_run
                while run_id:
                    history = await env.client.get_workflow_handle(tid, run_id=run_id).fetch_history()
                    runs.append((run_id, history))
                    run_id = history.events[
                        -1
                    ].workflow_execution_continued_as_new_event_attributes.new_execution_run_id
                if args.history:
                    args.history.mkdir(parents=True, exist_ok=True)
                    for n, (_, history) in enumerate(runs, 1):
                        if n <= 2 or n == len(runs):  # the transition, a first steady-state run, and the last
                            (args.history / f"reference-run-{n:02d}.json").write_text(history.to_json())
    sizes = [len(h.events) for _, h in runs]
    steady = [h for _, h in runs if in_steady_state(h, len(plan.phases))]
    transition = [h for _, h in runs if not in_steady_state(h, len(plan.phases))]
    emit(
        {
            "steady_events_per_year": round(sum(len(h.events) for h in steady) / args.years),
            "steady_kb_per_year": round(sum(e.ByteSize() for h in steady for e in h.events) / 1024 / args.years, 1),
            "phase": status.phase,
            "settlements": len(status.settlements),
            "runs": len(runs),
            "events_to_steady_state": sum(len(h.events) for h in transition),
            "runs_to_steady_state": len(transition),
            "largest_run_events": max(sizes),
            "simulated_seconds": round(simulated, 2),
            "wall_seconds": round(time.perf_counter() - began, 2),
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        args.json_out,
    )


def emit(figures: dict[str, object], json_out: Path | None) -> None:
    """Print the run's figures, and write them to ``json_out`` when asked: a reader of the file
    never has to pick them out of the log lines around them."""
    text = json.dumps(figures, indent=2)
    print(text)
    if json_out:
        json_out.write_text(text)


if __name__ == "__main__":
    asyncio.run(main())
