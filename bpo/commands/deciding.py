"""Commands for the people who decide: gate decisions, control, KPI readings, the roster."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import uuid
from collections.abc import Collection, Iterator

from pydantic import ValidationError
from temporalio.client import Client

from bpo.api import get_status, send
from bpo.commands.common import Exit, client_for, date_option, model_input, option, print_status
from infra.settings import Settings
from models.commands import BY_UPDATE, ChangeRoster, Command, Delegate, ReadingsBatch, RecordReadings
from models.errors import describe
from models.plan import Person
from models.readings import BadReading, reading_value
from models.readings_file import MAX_CSV_BYTES, ReadingsFileError, parse_readings, read_limited
from models.status import TransitionStatus


def decision(args: argparse.Namespace) -> Command:
    """The command named by ``args.command``, its fields taken from the options of the same name
    (``KEY=VALUE`` pairs for a field that maps keys to values)."""
    cls = BY_UPDATE[args.command]
    fields = {name: getattr(args, name, None) for name in cls.model_fields}
    for name, info in cls.model_fields.items():
        given = fields[name]
        if getattr(info.annotation, "__origin__", None) is dict and given is not None:
            fields[name] = pairs(name, given)
    return model_input(cls, **{k: v for k, v in fields.items() if v is not None})  # None: not given, the default


def pairs(option: str, given: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` arguments of ``--option`` as a mapping, each mistake named."""
    found: dict[str, str] = {}
    for pair in given:
        key, sep, value = pair.partition("=")
        if not sep or not key or not value:
            raise Exit(f"--{option}: '{pair[:60]}' is not KEY=VALUE, for example quality=4")
        if key in found:
            raise Exit(f"--{option}: '{key}' is given twice")
        found[key] = value
    return found


def operator(settings: Settings) -> str:
    """Who is at this shell: ``BPO_OPERATOR``, else the OS user."""
    if settings.operator:
        return settings.operator
    try:
        return getpass.getuser()[:254]
    except (KeyError, OSError):  # a container user with no name
        return f"uid-{os.getuid()}"


async def send_from_cli(
    settings: Settings, transition_id: str, command: Command, client: Client | None = None
) -> TransitionStatus:
    """Send ``command`` as the command line does: with ``via`` cli, the operator, a request id
    (made when none was given, and printed, so a retry with it counts once), signed when this
    shell holds ``BPO_SIGNING_KEY``."""
    request_id = command.request_id or f"cli-{uuid.uuid4().hex}"
    command = command.model_copy(update={"via": "cli", "operator": operator(settings), "request_id": request_id})
    client = client or await client_for(settings)
    print(f"request id: {request_id}", file=sys.stderr)
    return await send(client, transition_id, command, settings.signer)


async def cmd_decide(args: argparse.Namespace, settings: Settings) -> None:
    """approve, tick, reject, waive, pause, resume, cancel."""
    command = decision(args)
    status = await send_from_cli(settings, args.id, command)
    if args.json:
        print_status(status, True)
        return
    gate = next((g for g in status.gates if g.key == getattr(command, "gate", None)), None)
    summary = f"{args.command} accepted; {status.id} is {status.state} in {status.phase} ({status.health})"
    if gate:
        summary += f"; gate {gate.key}: {gate.status}, {gate.progress}"
    print(summary)


def readings(pairs: list[str]) -> dict[str, float]:
    """``METRIC=VALUE`` arguments as numbers, each mistake named."""
    values: dict[str, float] = {}
    for pair in pairs:
        metric, sep, value = pair.partition("=")
        if not sep or not metric:
            raise Exit(f"'{pair[:60]}' is not METRIC=VALUE, for example csat=91.5")
        if metric in values:
            raise Exit(f"metric '{metric}' is given twice")
        try:
            values[metric] = reading_value(metric, value)
        except BadReading as exc:
            hint = f"; write it as {metric}=91.5" if exc.why == "not_a_number" else ""
            raise Exit(f"{exc}{hint}") from None
    return values


async def cmd_kpi(args: argparse.Namespace, settings: Settings) -> None:
    """Record readings for one period, or a whole CSV file of them (all or none)."""
    command: RecordReadings | ReadingsBatch
    client = None
    if args.file:
        if args.readings or args.period:
            raise Exit("give either --file READINGS.csv or --period LABEL METRIC=VALUE..., not both")
        if args.correct:
            raise Exit("--correct takes one period's readings (--period LABEL METRIC=VALUE...), not a file")
        try:  # the file first: one that is not there needs no server to say so
            raw = read_limited(args.file, MAX_CSV_BYTES)
        except ReadingsFileError as exc:
            raise Exit(f"--file: {exc}") from None
        client = await client_for(settings)
        known = (await get_status(client, args.id)).metrics
        try:
            command = parse_readings(raw, args.file, known, args.by)
        except ReadingsFileError as exc:
            raise Exit(str(exc)) from None
        command.request_id = args.request_id
        count = sum(len(b.values) for b in command.batches)
        label = f"{len(command.batches)} period(s) from {args.file}"
    else:
        if not args.period:
            raise Exit("--period LABEL is required with METRIC=VALUE readings, for example --period 2027-W09")
        if not args.readings:
            raise Exit("give at least one reading as METRIC=VALUE, for example csat=91.5")
        command = model_input(
            RecordReadings,
            period=args.period,
            values=readings(args.readings),
            by=args.by,
            correct=args.correct or None,
            reason=args.reason,
            request_id=args.request_id,
        )
        count, label = len(command.values), command.period
    status = await send_from_cli(settings, args.id, command, client)
    if args.json:
        print_status(status, True)
        return
    kpi_gates = [f"{g.key}: {g.status}, {g.progress}" for g in status.gates if g.kind == "kpi"]
    print(f"recorded {count} reading(s) for {label}" + (f"; {'; '.join(kpi_gates)}" if kpi_gates else ""))


async def cmd_roster(args: argparse.Namespace, settings: Settings) -> None:
    """Add a person to the roster (or replace their entry), or take people off it."""
    if not args.add and not args.remove:
        raise Exit("name a person to add (--add PERSON --name N --role R) or to remove (--remove PERSON)")
    add = []
    if args.add:
        if not args.name or not args.role:
            raise Exit("--add PERSON needs --name and at least one --role, for example --role sme")
        add.append(model_input(Person, id=args.add, name=args.name, org=args.org, roles=args.role, email=args.email))
    command = model_input(ChangeRoster, add=add, remove=args.remove, by=args.by, request_id=args.request_id)
    status = await send_from_cli(settings, args.id, command)
    if args.json:
        print_status(status, True)
        return
    done = [f"added {p.id} ({', '.join(p.roles)})" for p in command.add] + [f"removed {p}" for p in command.remove]
    roster_gates = [f"{g.key}: {g.status}, {g.progress}" for g in status.gates if g.kind == "roster"]
    print(f"roster of {status.id}: {'; '.join(done)}" + (f"; {'; '.join(roster_gates)}" if roster_gates else ""))


async def cmd_delegate(args: argparse.Namespace, settings: Settings) -> None:
    """Let someone decide in another's stead until a date, or end that."""
    until = date_option(args.until, "until")
    fields = {"person": args.person, "to": args.to, "until": until, "end": args.end or None}
    try:
        command = Delegate(**{k: v for k, v in fields.items() if v is not None}, by=args.by, request_id=args.request_id)
    except ValidationError as exc:
        raise Exit(describe(exc, where=option)) from None
    status = await send_from_cli(settings, args.id, command)
    if args.json:
        print_status(status, True)
    elif command.end:
        print(f"{command.person} decides for themselves again")
    else:
        print(f"{command.to} decides for {command.person} until the end of {command.until}")


async def cmd_raid(args: argparse.Namespace, settings: Settings) -> None:
    """The RAID log: ``add`` an item, ``close`` one, or ``list`` them."""
    from bpo.render import raid_text
    from models.commands import RaidAdd, RaidClose

    if args.action == "list":
        status = await get_status(await client_for(settings), args.id)
        if args.json:
            print(json.dumps([i.model_dump(mode="json") for i in status.raid], indent=2))
        else:
            print(raid_text(status.raid) or "the RAID log is empty")
        return
    if not args.by:
        raise Exit(f"raid {args.action} needs --by PERSON: your id on the roster")
    command: Command
    if args.action == "add":
        due = date_option(args.due, "due")
        fields = {"kind": args.kind, "title": args.title, "owner": args.owner, "due": due}
        command = model_input(
            RaidAdd, **fields, severity=args.severity, blocks=args.blocks, by=args.by, request_id=args.request_id
        )
    else:
        if not args.item:
            raise Exit("raid close needs the item, for example: bpo raid ID close A-2 --by P --note T")
        command = model_input(RaidClose, item=args.item, note=args.note, by=args.by, request_id=args.request_id)
    status = await send_from_cli(settings, args.id, command)
    if args.json:
        print_status(status, True)
    elif isinstance(command, RaidAdd):
        print(f"{_newest(status)} opened")
    else:
        print(f"{command.item} closed")


def _newest(status: TransitionStatus) -> str:
    return max(status.raid, key=lambda i: i.opened_at).id


class _EveryKey(Collection[str]):
    """Kept: every reserved gate key, until the running plan says which it already has."""

    def __contains__(self, key: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


async def cmd_amend(args: argparse.Namespace, settings: Settings) -> None:
    """Propose a new version of a running transition's plan; a sponsor approves it."""
    from bpo.api import get_plan
    from bpo.commands.common import plan_from
    from models.commands import Amend
    from models.plan_checks import AMENDMENT_PREFIX
    from workflows.rules.amendments import changes

    new = plan_from(args.plan, settings, kept=_EveryKey())  # the file's own problems, before any server
    client = await client_for(settings)
    running = await get_plan(client, args.id)
    # A gate the running plan already has keeps its name, reserved or not: a transition begun on
    # a plan with 'amendment_review' (accepted before the prefix was reserved) stays amendable.
    kept = {g.key for p in running.phases for g in p.gates}
    if any(g.key.startswith(AMENDMENT_PREFIX) and g.key not in kept for p in new.phases for g in p.gates):
        plan_from(args.plan, settings, kept=kept)  # says which, with their lines
    found = changes(running, new)
    if not found:
        raise Exit(f"{args.plan} changes nothing in the plan '{args.id}' runs")
    # With --json, standard output is the status alone (its amendment lists the changes too).
    print("Changes:\n" + "\n".join(f"  {change}" for change in found), file=sys.stderr if args.json else sys.stdout)
    command = model_input(Amend, plan=new, reason=args.reason, by=args.by, request_id=args.request_id)
    status = await send_from_cli(settings, args.id, command, client)
    if args.json:
        print_status(status, True)
        return
    n = status.amendments[-1].number
    print(f"amendment_{n} proposed; an executive sponsor decides it: bpo approve {args.id} amendment_{n} --by SPONSOR")
