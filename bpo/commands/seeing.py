"""Commands for everyone who watches transitions: status, lists, reports, the audit trail."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bpo.api import get_plan, get_status
from bpo.commands.common import (
    FAILED,
    REFUSED,
    UNCHECKED,
    Exit,
    audit_engine,
    client_for,
    connections_of,
    plan_from,
    print_status,
    write_out,
)
from infra.masking import make_url_safe
from infra.settings import Settings
from models.constants import WORKFLOW_NAME
from models.plan import Plan
from workflows.search import SA_CLIENT, SA_HEALTH, SA_PHASE, SA_PROGRAM, SA_PROVIDER, SA_STATE

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from temporalio.client import Client

    from bpo.anchors import Recorded


async def cmd_status(args: argparse.Namespace, settings: Settings) -> None:
    """Where a transition stands."""
    client = await client_for(settings)
    print_status(await get_status(client, args.id), args.json)


async def cmd_list(args: argparse.Namespace, settings: Settings) -> None:
    """Transitions from Temporal's visibility store, filtered by their search attributes."""
    from bpo.render import table

    clauses = [f"WorkflowType = '{WORKFLOW_NAME}'"]
    filters = (
        (SA_STATE, args.state),
        (SA_PHASE, args.phase),
        (SA_HEALTH, args.health),
        (SA_CLIENT, args.client),
        (SA_PROVIDER, args.provider),
        (SA_PROGRAM, args.program),
    )
    for key, value in filters:
        if value is not None:
            if not value or len(value) > 100 or any(c in value for c in "'\"\\") or not value.isprintable():
                raise Exit(f"--{key.name.removeprefix('Bpo').lower()}: '{value[:40]}' is not a name to filter on")
            clauses.append(f"{key.name} = '{value}'")
    client = await client_for(settings)
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
                "program": attrs.get(SA_PROGRAM),
                "started_at": wf.start_time.isoformat() if wf.start_time else None,
            }
        )
    if args.json:
        print(json.dumps(found, indent=2))
    elif not found:
        print(f"program '{args.program}' has no workstreams started" if args.program else "no transitions match")
    else:
        keys = ("id", "state", "phase", "health", "client", "provider", "started_at")
        rows = [[str(t[k] or "-") for k in keys] for t in under_programs(found)]
        print(table([k.upper() for k in keys], rows))


def under_programs(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The listed transitions with each workstream right under its program, indented (``  └ email``);
    a workstream whose program is not listed keeps its whole id."""
    listed = {t["id"] for t in found}
    streams: dict[str, list[dict[str, Any]]] = {}
    for t in found:
        if t["program"] in listed:
            streams.setdefault(t["program"], []).append(t)
    shown = []
    for t in found:
        if t["program"] in listed:
            continue
        shown.append(t)
        for stream in sorted(streams.get(t["id"], []), key=lambda s: s["id"]):
            shown.append({**stream, "id": "  └ " + stream["id"].rpartition("/")[2]})
    return shown


SETTLE_FOR = 5.0
"""How long a reader of the trail waits for entries a transition has accepted but not written."""


async def written_first(settings: Settings, transition_id: str, client: Client | None = None) -> None:
    """Before a trail is read: what the transition accepted is written (`audit_settled`, for at
    most `SETTLE_FOR`), and what still waits is said on stderr. With no server to ask, the table
    is all there is to read."""
    from bpo.api import audit_settled
    from infra.client import connect

    try:
        left = await audit_settled(client or await connect(settings), transition_id, SETTLE_FOR)
    except Exception:  # no server: the trail reads as the table holds it
        return
    if left:
        print(
            f"note: {left} more entries of '{transition_id}' are accepted and kept by the transition, but not "
            "yet in the audit database (is it reachable from the worker?); they are written when it is",
            file=sys.stderr,
        )


def _trail(settings: Settings, transition_id: str, engine: Engine | None = None) -> list[Any]:
    """The rows of a transition's trail, from ``engine`` or the audit database (`audit_engine`)."""
    from infra.audit import trail_of

    return trail_of(engine or audit_engine(settings), transition_id)


async def cmd_report(args: argparse.Namespace, settings: Settings) -> None:
    """A self-contained HTML report of one transition."""
    from bpo.report import render_report

    client = await client_for(settings)
    status, plan = await get_status(client, args.id), await get_plan(client, args.id)
    from bpo.evidence_check import last_verdicts, pinned

    engine = audit_engine(settings)
    await written_first(settings, args.id, client)
    trail = _trail(settings, args.id, engine)
    # The last check's verdict and when: `bpo evidence --verify` checks again.
    evidence = last_verdicts(pinned(trail), engine)
    drawn = None
    if status.workstreams:  # a program: its workstreams as lanes
        from bpo.lanes import lanes, lanes_svg, streams_of

        rows = lanes(plan, status, (await streams_of(client, status))[0], datetime.now(UTC))
        drawn = lanes_svg(rows, datetime.now(UTC))
    html = render_report(plan, status, trail, datetime.now(UTC), evidence, drawn)
    write_out(html, args.out, "report", settings)


async def cmd_calendar(args: argparse.Namespace, settings: Settings) -> None:
    """An iCalendar file of a transition's due dates, check-ins and reviews."""
    from bpo.calendar import render_calendar
    from bpo.lanes import streams_of

    client = await client_for(settings)
    status, plan = await get_status(client, args.id), await get_plan(client, args.id)
    streams = (await streams_of(client, status))[0] if status.workstreams else {}  # a program: their dues too
    write_out(render_calendar(plan, status, datetime.now(UTC), streams), args.out, "calendar", settings)


async def cmd_audit(args: argparse.Namespace, settings: Settings) -> None:
    """A transition's audit trail, from the audit database, once what the transition has accepted
    is written there; ``--verify`` checks its chain."""
    from bpo.commands.verifying import read_covered, read_recorded, verify_trail
    from bpo.render import trail_text

    # Whether there is a database to read before anything else: none is "could not check".
    engine = audit_engine(settings, UNCHECKED if args.verify else FAILED)
    await written_first(settings, args.id)
    record: Recorded | str | None = None
    if args.verify:  # read until a head the transition recorded covers the table's last row
        record, rows = await read_covered(
            lambda: read_recorded(settings, args.id), lambda: _trail(settings, args.id, engine)
        )
    else:
        rows = _trail(settings, args.id, engine)
    if not rows:
        raise Exit(f"the audit trail has nothing for '{args.id}' in {make_url_safe(settings.audit_url)}")
    if args.verify:
        verify_trail(args.id, rows, record, args.json)
        return
    if args.json:
        print(json.dumps([r.model_dump(mode="json") for r in rows], indent=2))
    else:
        print(trail_text(rows))


def cmd_config(args: argparse.Namespace, settings: Settings) -> None:
    """The settings in force, secrets masked."""
    from infra.masking import effective

    shown = effective(settings)
    if args.json:
        print(json.dumps(shown, indent=2))
    else:
        width = max(map(len, shown))
        for name, value in shown.items():
            print(f"{name.ljust(width)}  {value}")


def cmd_validate(args: argparse.Namespace, settings: Settings) -> None:
    """Check a plan file; ``--json``: the verdict as one JSON object (`validate_json`)."""
    if args.json:
        validate_json(args.plan, settings)
        return
    plan = plan_from(args.plan, settings)
    gates = sum(len(p.gates) for p in plan.phases)
    print(
        f"{args.plan}: valid: {len(plan.phases)} phases, {gates} gates, {len(plan.people)} people, {len(plan.kpis)} KPIs"
        + (f", {len(plan.feeds)} KPI feeds ({plan.reporting_period})" if plan.feeds else "")
        + (f", {len(plan.workstreams)} workstreams" if plan.workstreams else "")
    )


def validate_json(path: str, settings: Settings) -> None:
    """The verdict on a plan for a script: ``{"plan", "ok", "problems": [{"path", "line",
    "message"}], "warnings", "summary"}`` on standard output, and exit 2 (`REFUSED`) when it is
    not ok, with nothing but JSON on standard output either way."""
    from models.plan_loader import PlanError, load_plan

    verdict: dict[str, Any] = {"plan": path, "ok": False, "problems": [], "warnings": [], "summary": None}
    try:
        loaded = load_plan(path, connections=connections_of(settings))
    except PlanError as exc:
        verdict["problems"] = [{"path": p.path, "line": p.line, "message": p.message} for p in exc.problems]
    except Exit as exc:  # BPO_CONNECTIONS, which a plan's connections are checked against, is unreadable
        verdict["problems"] = [{"path": "", "line": None, "message": f"BPO_CONNECTIONS: {exc}"}]
    else:
        plan = loaded.plan
        verdict |= {
            "ok": True,
            "warnings": loaded.warnings,
            "summary": {
                "phases": len(plan.phases),
                "gates": sum(len(p.gates) for p in plan.phases),
                "people": len(plan.people),
                "kpis": len(plan.kpis),
                "feeds": len(plan.feeds),
            },
        }
    print(json.dumps(verdict, indent=2))
    if not verdict["ok"]:
        raise Exit(f"{len(verdict['problems'])} problem(s) in {path}", REFUSED)


def cmd_schema(args: argparse.Namespace, settings: Settings) -> None:
    """The plan's JSON Schema."""
    print(json.dumps(Plan.model_json_schema(), indent=2))


async def cmd_qbr(args: argparse.Namespace, settings: Settings) -> None:
    """The quarter's business-review pack as one self-contained HTML page."""
    from bpo.qbr import Quarter, render_qbr

    try:
        quarter = Quarter.parse(args.quarter)
    except ValueError as exc:
        raise Exit(f"--quarter: {exc}") from None
    client = await client_for(settings)
    from bpo.lanes import drawn

    status, plan = await get_status(client, args.id), await get_plan(client, args.id)
    now = datetime.now(UTC)
    lanes = await drawn(client, plan, status, now)
    await written_first(settings, args.id, client)
    write_out(render_qbr(plan, status, _trail(settings, args.id), quarter, now, lanes), args.out, "qbr", settings)


async def cmd_simulate(args: argparse.Namespace, settings: Settings) -> None:
    """Run a plan on the time-skipping test server and print the forecast; a program (a plan
    with workstreams) is forecast by its rules alone, workstreams and critical path included."""
    from bpo.simulate import forecast_text, simulate
    from bpo.simulate_program import forecast_program, program_json, program_text

    plan = plan_from(args.plan, settings)
    text = args.decide_at.strip()
    try:
        share = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise Exit(f"--decide-at: '{text}' is not a share; write it as 50% (of each phase's due time)") from None
    if not 0 <= share <= 5:
        raise Exit(f"--decide-at: {text} is out of range; from 0% to 500% of each phase's due time")
    if not 0 <= args.years <= 10:
        raise Exit(f"--years: {args.years} is out of range; from 0 to 10 years of steady state")
    if plan.workstreams:
        program = forecast_program(plan, share, args.years)
        print(program_json(program) if args.json else program_text(program))
        return
    forecast = await simulate(plan, share, args.years)
    print(forecast.model_dump_json(indent=2) if args.json else forecast_text(forecast))
