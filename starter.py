"""The `bpo` command: start transitions, decide on their gates, and see where they stand.

Exit codes: 0 done; 2 refused (bad input, unknown transition, gate, item or metric, a person not
allowed to decide, a gate that is not open), with a message that says what would be right; 1
anything else, such as no server reachable.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import io
import json
import math
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bpo.api import BpoError, get_status, send, start_transition
from bpo.settings import Settings, get_settings
from models.messages import Approve, Cancel, Pause, ReadingsBatch, RecordReadings, Reject, Resume, Tick, Waive
from models.plan import Plan
from models.plan_loader import PlanError, load_plan

REFUSED, FAILED = 2, 1
EXAMPLES = Path(__file__).resolve().parent / "examples"


class Exit(Exception):
    """Stop with ``code`` after printing ``message`` to stderr."""

    def __init__(self, message: str, code: int = REFUSED) -> None:
        super().__init__(message)
        self.code = code


def _model(cls: Any, **fields: Any) -> Any:
    """Build an input model, turning a validation error into a message naming the option."""
    try:
        return cls(**{k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "input"
            problems.append(f"--{where.replace('_', '-')}: {error['msg'].removeprefix('Value error, ')}")
        raise Exit("; ".join(problems)) from None


def _plan(path: str) -> Plan:
    try:
        loaded = load_plan(path)
    except PlanError as exc:
        raise Exit(f"{len(exc.problems)} problem(s) in the plan:\n{exc}") from None
    for warning in loaded.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return loaded.plan


async def _client(settings: Settings) -> Any:
    from bpo.client import connect

    try:
        return await connect(settings)
    except Exception as exc:  # any failure to connect is the same to a person: no server
        raise Exit(
            f"cannot reach Temporal at {settings.temporal_address} ({exc}); start it with 'bpo server' or "
            "'make run', or set TEMPORAL_ADDRESS",
            FAILED,
        ) from None


def _print_status(status: Any, as_json: bool) -> None:
    from bpo.render import status_text

    if as_json:
        print(json.dumps(status.model_dump(mode="json"), indent=2))
    else:
        print(status_text(status, datetime.now(UTC)))


# --- commands that talk to a transition -------------------------------------------------------


async def cmd_start(args: argparse.Namespace, settings: Settings) -> None:
    plan = _plan(args.plan)
    client = await _client(settings)
    transition_id = await start_transition(
        client, plan, task_queue=settings.task_queue, transition_id=args.id, private=bool(settings.encryption_key)
    )
    print(transition_id)


async def cmd_status(args: argparse.Namespace, settings: Settings) -> None:
    client = await _client(settings)
    _print_status(await get_status(client, args.id), args.json)


def _decision(args: argparse.Namespace) -> Any:
    common = {"by": args.by, "request_id": args.request_id}
    if args.command == "approve":
        return _model(Approve, gate=args.gate, note=args.note, evidence=args.evidence, **common)
    if args.command == "tick":
        return _model(Tick, gate=args.gate, item=args.item, note=args.note, **common)
    if args.command == "reject":
        return _model(Reject, gate=args.gate, reason=args.reason, **common)
    if args.command == "waive":
        return _model(Waive, gate=args.gate, reason=args.reason, **common)
    if args.command == "pause":
        return _model(Pause, reason=args.reason, **common)
    if args.command == "resume":
        return _model(Resume, reason=args.reason, **common)
    return _model(Cancel, reason=args.reason, **common)


async def cmd_decide(args: argparse.Namespace, settings: Settings) -> None:
    command = _decision(args)
    client = await _client(settings)
    status = await send(client, args.id, command)
    if args.json:
        _print_status(status, True)
        return
    gate = next((g for g in status.gates if g.key == getattr(command, "gate", None)), None)
    summary = f"{args.command} accepted; {status.id} is {status.state} in {status.phase} ({status.health})"
    if gate:
        summary += f"; gate {gate.key}: {gate.status}, {gate.progress}"
    print(summary)


def _readings(pairs: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        metric, sep, value = pair.partition("=")
        if not sep or not metric:
            raise Exit(f"'{pair[:60]}' is not METRIC=VALUE, for example csat=91.5")
        if metric in values:
            raise Exit(f"metric '{metric}' is given twice")
        try:
            number = float(value)
        except ValueError:
            raise Exit(f"{metric}: '{value[:40]}' is not a number; write it as {metric}=91.5") from None
        if not math.isfinite(number):
            raise Exit(f"{metric}: {value} is not a finite number")
        if number < 0:
            raise Exit(f"{metric}: {value} is negative; KPI readings are counts, rates or amounts")
        values[metric] = number
    return values


MAX_CSV_BYTES = 2 * 1024 * 1024


def _read_limited(path: str, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of a file, so /dev/zero or a huge file cannot hang us."""
    try:
        with open(path, "rb") as handle:
            return handle.read(limit + 1)
    except OSError as exc:
        raise Exit(f"cannot read {path}: {exc.strerror}") from None


def _csv_batches(path: str, by: str | None, known: list[str]) -> ReadingsBatch:
    """Readings from a CSV file (``period,metric,value``), every bad row reported with its line."""
    raw = _read_limited(path, MAX_CSV_BYTES)
    if len(raw) > MAX_CSV_BYTES:
        raise Exit(f"{path} is larger than {MAX_CSV_BYTES // 1024 // 1024} MiB; split it")
    try:
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise Exit(f"{path} is not a UTF-8 CSV file: {exc}") from None
    if not rows or [c.strip().lower() for c in rows[0]] != ["period", "metric", "value"]:
        raise Exit(f"{path}:1: the first line must be the header period,metric,value")
    periods: dict[str, dict[str, float]] = {}
    problems = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != 3:
            problems.append(f"{path}:{line}: expected 3 columns (period,metric,value), found {len(row)}")
            continue
        period, metric, value = (cell.strip() for cell in row)
        if metric not in known:
            problems.append(f"{path}:{line}: unknown metric '{metric[:40]}'; the plan's KPIs: {', '.join(known)}")
            continue
        try:
            batch = RecordReadings(period=period, values={metric: value})
        except ValidationError as exc:
            reason = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
            problems.append(f"{path}:{line}: {period[:30]},{metric[:30]},{value[:30]}: {reason}")
            continue
        periods.setdefault(batch.period, {}).update(batch.values)
    if problems:
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        raise Exit("nothing was recorded; fix these rows:\n" + "\n".join(shown))
    if not periods:
        raise Exit(f"{path} has no readings under its header")
    return _model(ReadingsBatch, batches=[RecordReadings(period=p, values=v, by=by) for p, v in periods.items()])


async def cmd_kpi(args: argparse.Namespace, settings: Settings) -> None:
    if args.file:
        if args.readings or args.period:
            raise Exit("give either --file READINGS.csv or --period LABEL METRIC=VALUE..., not both")
        client = await _client(settings)
        command = _csv_batches(args.file, args.by, (await get_status(client, args.id)).metrics)
        command.request_id = args.request_id
        count = sum(len(b.values) for b in command.batches)
        label = f"{len(command.batches)} period(s) from {args.file}"
    else:
        if not args.period:
            raise Exit("--period LABEL is required with METRIC=VALUE readings, for example --period 2027-W09")
        if not args.readings:
            raise Exit("give at least one reading as METRIC=VALUE, for example csat=91.5")
        command = _model(
            RecordReadings, period=args.period, values=_readings(args.readings), by=args.by, request_id=args.request_id
        )
        count, label = len(command.values), command.period
        client = await _client(settings)
    status = await send(client, args.id, command)
    kpi_gates = [f"{g.key}: {g.status}, {g.progress}" for g in status.gates if g.kind == "kpi"]
    print(f"recorded {count} reading(s) for {label}" + (f"; {'; '.join(kpi_gates)}" if kpi_gates else ""))


async def cmd_list(args: argparse.Namespace, settings: Settings) -> None:
    from bpo.constants import SA_CLIENT, SA_HEALTH, SA_PHASE, SA_PROVIDER, SA_STATE, WORKFLOW_NAME
    from bpo.render import table

    clauses = [f"WorkflowType = '{WORKFLOW_NAME}'"]
    filters = (
        (SA_STATE, args.state),
        (SA_PHASE, args.phase),
        (SA_HEALTH, args.health),
        (SA_CLIENT, args.client),
        (SA_PROVIDER, args.provider),
    )
    for key, value in filters:
        if value is not None:
            if not value or len(value) > 100 or any(c in value for c in "'\"\\") or not value.isprintable():
                raise Exit(f"--{key.name.removeprefix('Bpo').lower()}: '{value[:40]}' is not a name to filter on")
            clauses.append(f"{key.name} = '{value}'")
    client = await _client(settings)
    found = []
    async for wf in client.list_workflows(" AND ".join(clauses)):
        attrs = wf.typed_search_attributes
        found.append(
            {
                "id": wf.id,
                "state": attrs.get(SA_STATE),
                "phase": attrs.get(SA_PHASE),
                "health": attrs.get(SA_HEALTH),
                "client": attrs.get(SA_CLIENT),
                "provider": attrs.get(SA_PROVIDER),
                "started_at": wf.start_time.isoformat() if wf.start_time else None,
            }
        )
    if args.json:
        print(json.dumps(found, indent=2))
    elif not found:
        print("no transitions match")
    else:
        keys = ("id", "state", "phase", "health", "client", "provider", "started_at")
        print(table([k.upper() for k in keys], [[str(t[k] or "-") for k in keys] for t in found]))


# --- commands that need no transition ----------------------------------------------------------


def _trail(settings: Settings, transition_id: str) -> list[Any]:
    from sqlmodel import Session

    from activities.audit import read_trail
    from bpo.db import make_engine

    with Session(make_engine(settings.audit_url)) as session:
        return list(read_trail(transition_id, session=session))


def _write(text: str, out: str | None, what: str) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    try:
        Path(out).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise Exit(f"cannot write {out}: {exc.strerror}") from None
    print(f"{what} written to {out}")


async def cmd_report(args: argparse.Namespace, settings: Settings) -> None:
    from bpo.api import get_plan
    from bpo.report import render_report

    client = await _client(settings)
    status, plan = await get_status(client, args.id), await get_plan(client, args.id)
    html = render_report(plan, status, _trail(settings, args.id), datetime.now(UTC))
    _write(html, args.out, "report")


async def cmd_calendar(args: argparse.Namespace, settings: Settings) -> None:
    from bpo.api import get_plan
    from bpo.calendar import render_calendar

    client = await _client(settings)
    status, plan = await get_status(client, args.id), await get_plan(client, args.id)
    _write(render_calendar(plan, status, datetime.now(UTC)), args.out, "calendar")


async def cmd_setup(args: argparse.Namespace, settings: Settings) -> None:
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest

    from bpo.constants import SEARCH_ATTRIBUTES

    client = await _client(settings)
    namespace = settings.temporal_namespace
    listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    missing = {k.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for k in SEARCH_ATTRIBUTES}
    missing = {k: v for k, v in missing.items() if k not in listed.custom_attributes}
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    print(
        f"search attributes in namespace '{namespace}': added {', '.join(missing) or 'none'}; "
        f"{len(SEARCH_ATTRIBUTES) - len(missing)} were there already"
    )


def cmd_config(args: argparse.Namespace, settings: Settings) -> None:
    from bpo.settings import effective

    shown = effective(settings)
    if args.json:
        print(json.dumps(shown, indent=2))
    else:
        width = max(map(len, shown))
        for name, value in shown.items():
            print(f"{name.ljust(width)}  {value}")


def cmd_validate(args: argparse.Namespace, settings: Settings) -> None:
    plan = _plan(args.plan)
    gates = sum(len(p.gates) for p in plan.phases)
    print(
        f"{args.plan}: valid: {len(plan.phases)} phases, {gates} gates, {len(plan.people)} people, {len(plan.kpis)} KPIs"
    )


def cmd_schema(args: argparse.Namespace, settings: Settings) -> None:
    print(json.dumps(Plan.model_json_schema(), indent=2))


def cmd_audit(args: argparse.Namespace, settings: Settings) -> None:
    from bpo.render import trail_text

    rows = _trail(settings, args.id)
    if not rows:
        raise Exit(f"the audit trail has nothing for '{args.id}' in {settings.audit_url}")
    if args.json:
        print(json.dumps([r.model_dump(mode="json") for r in rows], indent=2))
    else:
        print(trail_text(rows))


def cmd_server(args: argparse.Namespace, settings: Settings) -> None:
    from bpo.server import server_command

    command = server_command(settings.data_dir, args.port, args.ui_port, settings.temporal_namespace)
    print(
        f"Temporal dev server on 127.0.0.1:{args.port}, Web UI on http://localhost:{args.ui_port}, "
        f"data in {settings.data_dir / 'temporal.db'}",
        file=sys.stderr,
    )
    os.execv(command[0], command)


def cmd_codec_server(args: argparse.Namespace, settings: Settings) -> None:
    from bpo.codec import codec_from_env, serve_codec

    env = {"BPO_ENCRYPTION_KEY": settings.encryption_key or "", "BPO_ENCRYPTION_OLD_KEYS": settings.encryption_old_keys}
    codec = codec_from_env(env)
    if codec is None:
        raise Exit("set BPO_ENCRYPTION_KEY: the codec server decodes with the same key as the worker")
    origins = args.ui_origin or ["http://localhost:8233", "http://127.0.0.1:8233"]
    server = serve_codec(codec, args.ip, args.port, origins)
    print(f"codec server on http://{args.ip}:{args.port} for {', '.join(origins)}", file=sys.stderr, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


def cmd_worker(args: argparse.Namespace, settings: Settings) -> None:
    from worker import run_worker

    asyncio.run(run_worker(settings))


def cmd_up(args: argparse.Namespace, settings: Settings) -> None:
    """Server, worker and the demo transition, until Ctrl-C."""
    from bpo.server import wait_for_server

    bpo = [sys.executable, "-m", "starter"]
    env = {**os.environ, "TEMPORAL_ADDRESS": f"127.0.0.1:{args.port}", "BPO_DATA_DIR": str(settings.data_dir)}
    children = [subprocess.Popen([*bpo, "server", "--port", str(args.port), "--ui-port", str(args.ui_port)], env=env)]
    try:
        asyncio.run(wait_for_server(env["TEMPORAL_ADDRESS"]))
        children.append(subprocess.Popen([*bpo, "worker"], env=env))
        plan = EXAMPLES / "reference-plan.yaml"
        demo = subprocess.run([*bpo, "start", str(plan)], env=env, capture_output=True, text=True)
        demo_id = demo.stdout.strip() or "acme-tier-1-support-to-northstar-bpo"
        print(
            f"\nThe engine is running. Web UI: http://localhost:{args.ui_port}\n"
            f"Demo transition: {demo_id}" + (" (already there)" if demo.returncode else " (started)") + "\n\n"
            "Try, in another terminal:\n"
            f"  .venv/bin/bpo status {demo_id}\n"
            f"  .venv/bin/bpo approve {demo_id} gap_analysis_approved --by li@acme.example\n\n"
            "Ctrl-C stops everything.",
            flush=True,
        )
        children[0].wait()
    except KeyboardInterrupt:
        pass
    finally:
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()


# --- the parser --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bpo", description="Run BPO transitions on Temporal.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_text: str, func: Callable[..., Any]) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    p = add("server", "run the embedded Temporal dev server (SQLite under BPO_DATA_DIR)", cmd_server)
    p.add_argument("--ip", default="127.0.0.1", help="address to listen on (0.0.0.0 in a container)")
    p.add_argument("--codec-endpoint", metavar="URL", help="the Web UI decodes payloads here (bpo codec-server)")
    p.add_argument("--port", type=int, default=7233)
    p.add_argument("--ui-port", type=int, default=8233)
    add("worker", "run a worker that executes transitions", cmd_worker)
    p = add("up", "server, worker and the demo transition together, until Ctrl-C", cmd_up)
    p.add_argument("--port", type=int, default=7233)
    p.add_argument("--ui-port", type=int, default=8233)

    p = add("validate", "check a plan file and print every problem with its place", cmd_validate)
    p.add_argument("plan")
    add("schema", "print the plan's JSON Schema, for editors", cmd_schema)

    p = add("start", "start a transition from a plan; prints its id", cmd_start)
    p.add_argument("plan")
    p.add_argument("--id", help="the transition id (default: derived from the plan's name)")

    p = add("status", "where a transition stands", cmd_status)
    p.add_argument("id")
    p.add_argument("--json", action="store_true")

    p = add("list", "transitions, from Temporal's visibility store", cmd_list)
    p.add_argument("--state", choices=["running", "paused", "completed", "cancelled"])
    p.add_argument("--phase")
    p.add_argument("--health", choices=["on_track", "at_risk", "escalated"])
    p.add_argument("--client")
    p.add_argument("--provider")
    p.add_argument("--json", action="store_true")

    p = add("report", "a self-contained HTML report: timeline, decisions, escalations, KPI charts", cmd_report)
    p.add_argument("id")
    p.add_argument("--out", metavar="FILE", help="where to write it (default: standard output)")

    p = add("calendar", "an iCalendar file of due dates, check-ins and business reviews", cmd_calendar)
    p.add_argument("id")
    p.add_argument("--out", metavar="FILE", help="where to write it (default: standard output)")

    p = add("codec-server", "decode encrypted payloads for the Web UI (needs BPO_ENCRYPTION_KEY)", cmd_codec_server)
    p.add_argument("--ip", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8081)
    p.add_argument(
        "--ui-origin", action="append", help="Web UI origin allowed to call it (default http://localhost:8233)"
    )

    p = add("config", "the settings in force (environment and .env), secrets masked", cmd_config)
    p.add_argument("--json", action="store_true")

    add("setup", "register the search attributes on a cluster (bpo server does it by itself)", cmd_setup)

    p = add("audit", "the audit trail of a transition, from the audit database", cmd_audit)
    p.add_argument("id")
    p.add_argument("--json", action="store_true")

    def decision(
        name: str, help_text: str, *positional: str, reason: bool = False, optional_reason: bool = False
    ) -> None:
        p = add(name, help_text, cmd_decide)
        p.add_argument("id")
        for arg in positional:
            p.add_argument(arg)
        p.add_argument("--by", required=True, metavar="PERSON", help="your id on the roster")
        if name in ("approve", "tick"):
            p.add_argument("--note")
        if name == "approve":
            p.add_argument("--evidence", metavar="REF", help="a link or reference backing the approval")
        if reason or optional_reason:
            p.add_argument("--reason", required=reason)
        p.add_argument("--request-id", help="makes a retried command count once")
        p.add_argument("--json", action="store_true", help="print the status after the decision as JSON")

    decision("approve", "approve a gate", "gate")
    decision("tick", "tick one item of a checklist gate", "gate", "item")
    decision("reject", "reject a gate (rework, or a halt past the rework limit)", "gate", reason=True)
    decision("waive", "pass a gate without its condition", "gate", reason=True)
    decision("pause", "stop every clock of a transition", reason=True)
    decision("resume", "start the clocks again", optional_reason=True)
    decision("cancel", "end a transition", reason=True)

    p = add("kpi", "record KPI readings: --period LABEL METRIC=VALUE...", cmd_kpi)
    p.add_argument("id")
    p.add_argument("readings", nargs="*", metavar="METRIC=VALUE")
    p.add_argument("--period", metavar="LABEL", help="the reporting period, for example 2027-W09")
    p.add_argument("--file", metavar="READINGS.csv", help="readings as CSV: period,metric,value; all or none")
    p.add_argument("--by", metavar="PERSON")
    p.add_argument("--request-id")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # argparse will not take positionals after an option (`kpi ID --period P csat=90`), so
    # readings that follow --period arrive here.
    if args.command == "kpi" and not any(e.startswith("-") for e in extra):
        args.readings += extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        settings = get_settings()
    except ValidationError as exc:
        wrong = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        print(f"bpo {args.command}: a setting in the environment or .env is wrong: {wrong}", file=sys.stderr)
        return REFUSED
    from bpo.logs import configure

    configure(settings.log_format, "warning" if args.command not in ("worker", "up") else settings.log_level)
    try:
        result = args.func(args, settings)
        if isinstance(result, Coroutine):
            asyncio.run(result)
    except Exit as exc:
        print(f"bpo {args.command}: {exc}", file=sys.stderr)
        return exc.code
    except BpoError as exc:
        print(f"bpo {args.command}: {exc}", file=sys.stderr)
        return REFUSED if exc.refused else FAILED
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a person gets a sentence, not a traceback
        print(f"bpo {args.command}: failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return FAILED
    return 0


def entry() -> None:
    """The console script: run `main`, then leave without tearing down Temporal's native threads,
    which can abort the interpreter at exit (a known hazard of short-lived SDK clients)."""
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
