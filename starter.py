"""The `bpo` command: start transitions, decide on their gates, and see where they stand.

This module holds the parser and `main`; the commands live in `bpo.commands`, by audience.

Exit codes: 0 done; 2 refused (bad input, unknown transition, gate, item or metric, a person not
allowed to decide, a gate that is not open), with a message that says what would be right; 1
anything else, such as no server reachable (for the ``--verify`` commands: something changed); 3
(the ``--verify`` commands) could not check now; 141 standard output was closed early
(``bpo list | head -1``), quietly, as other Unix tools end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import os
import sys
from collections.abc import Coroutine

from pydantic import ValidationError

from bpo.commands.common import FAILED, REFUSED, Exit, unreachable, with_hint
from bpo.errors import BpoError
from infra.masking import make_url_safe
from infra.settings import get_settings
from models.errors import describe

# --- the parser --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """Every command, its arguments and its help."""
    from bpo.commands.arguments import address, port, url
    from bpo.version import VersionAction

    parser = argparse.ArgumentParser(prog="bpo", description="Run BPO transitions on Temporal.")
    parser.add_argument("--version", action=VersionAction)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_text: str, func: str) -> argparse.ArgumentParser:
        """A command, run by ``func`` ("module:function" in `bpo.commands`), imported only when
        it runs: `bpo status` loads what status needs, not the web app or the plan loader."""
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    p = add("server", "run the embedded Temporal dev server (SQLite under BPO_DATA_DIR)", "operating:cmd_server")
    p.add_argument("--ip", type=address, default="127.0.0.1", help="address to listen on (0.0.0.0 in a container)")
    p.add_argument(
        "--codec-endpoint", type=url, metavar="URL", help="the Web UI decodes payloads here (bpo codec-server)"
    )
    p.add_argument("--port", type=port, default=7233)
    p.add_argument("--ui-port", type=port, default=8233)
    add("worker", "run a worker that executes transitions", "operating:cmd_worker")
    p = add("up", "server, worker, web app and the demo transition together, until Ctrl-C", "operating:cmd_up")
    p.add_argument("--port", type=port, default=7233)
    p.add_argument("--ui-port", type=port, default=8233)
    p.add_argument("--web-port", type=port, default=8000)
    p = add("web", "serve the web app: approvers sign off, the program office runs its portfolio", "operating:cmd_web")
    p.add_argument("--host", type=address, default="127.0.0.1", help="address to listen on (0.0.0.0 in a container)")
    p.add_argument("--port", type=port, default=8000)

    p = add("validate", "check a plan file and print every problem with its place", "seeing:cmd_validate")
    p.add_argument("plan")
    p.add_argument("--json", action="store_true", help="the verdict as JSON: ok, problems (path, line, message)")
    add("schema", "print the plan's JSON Schema, for editors", "seeing:cmd_schema")

    p = add("start", "start a transition from a plan; prints its id", "operating:cmd_start")
    p.add_argument("plan")
    p.add_argument("--id", help="the transition id (default: derived from the plan's name)")
    p.add_argument("--replace-ended", action="store_true", help="reuse the id of an ended transition, on purpose")
    p.add_argument("--json", action="store_true", help='the id as JSON: {"id": ...}')

    p = add("status", "where a transition stands", "seeing:cmd_status")
    p.add_argument("id")
    p.add_argument("--json", action="store_true")

    p = add("list", "transitions, from Temporal's visibility store", "seeing:cmd_list")
    p.add_argument("--state", choices=["running", "paused", "completed", "cancelled"])
    p.add_argument("--phase")
    p.add_argument("--health", choices=["on_track", "at_risk", "escalated"])
    p.add_argument("--client")
    p.add_argument("--provider")
    p.add_argument("--program", help="a program's id: its workstreams")
    p.add_argument("--json", action="store_true")

    p = add("versions", "open transitions by rules epoch: which old workflow branches they still need", "versions:cmd_versions")
    p.add_argument("--json", action="store_true")

    p = add("report", "a self-contained HTML report: timeline, decisions, escalations, KPI charts", "seeing:cmd_report")
    p.add_argument("id")
    p.add_argument("--out", metavar="FILE", help="where to write it (default: standard output)")

    p = add("qbr", "the quarter's business-review pack: one self-contained HTML page", "seeing:cmd_qbr")
    p.add_argument("id")
    p.add_argument("--quarter", required=True, metavar="YYYY-QN", help="the quarter, for example 2027-Q2")
    p.add_argument("--out", metavar="FILE", help="where to write it (default: standard output)")

    p = add("simulate", "run a plan on Temporal's time-skipping server and print the forecast", "seeing:cmd_simulate")
    p.add_argument("plan")
    p.add_argument("--decide-at", default="50%", metavar="SHARE", help="when gates are decided (default 50%%)")
    p.add_argument("--years", type=int, default=1, help="years of steady state to run (default 1)")
    p.add_argument("--json", action="store_true")

    p = add("calendar", "an iCalendar file of due dates, check-ins and business reviews", "seeing:cmd_calendar")
    p.add_argument("id")
    p.add_argument("--out", metavar="FILE", help="where to write it (default: standard output)")

    p = add(
        "keys",
        "'bpo keys new': a new Ed25519 key pair for signed commands; 'bpo keys rotate ID --add KEY --remove KEY': "
        "change the keys a running transition trusts (signed by one it trusts now)",
        "operating:cmd_keys",
    )
    p.add_argument("action", choices=["new", "rotate"])
    p.add_argument("id", nargs="?", help="the transition whose keys rotate")
    p.add_argument("--add", action="append", default=[], metavar="KEY", help="a public key to trust (repeatable)")
    p.add_argument("--remove", action="append", default=[], metavar="KEY", help="a public key to stop trusting")
    p.add_argument("--by", help="the person on the roster who asks for it")
    p.add_argument("--request-id")
    p.add_argument("--json", action="store_true")

    p = add("codec-server", "decode encrypted payloads for the Web UI (needs BPO_ENCRYPTION_KEY)", "operating:cmd_codec_server")
    p.add_argument("--ip", type=address, default="127.0.0.1")
    p.add_argument("--port", type=port, default=8081)
    p.add_argument(
        "--ui-origin", type=url, action="append", help="Web UI origin allowed to call it (default http://localhost:8233)"
    )
    p.add_argument(
        "--host-name", type=address, action="append", help="a name it is called by besides its address; repeatable"
    )
    p.add_argument("--allow-encode", action="store_true", help="serve POST /encode too (off: it encrypts for anyone)")

    p = add("feed", "a transition's KPI feeds; --pull-now pulls at once", "sources:cmd_feed")
    p.add_argument("id")
    p.add_argument("--pull-now", action="store_true", help="pull the periods due and missing now (with --by)")
    p.add_argument("--feed", metavar="NAME", help="only this feed (default: every feed)")
    p.add_argument("--period", action="append", metavar="LABEL", help="also pull this ended period (2027-W05); repeatable")
    p.add_argument("--by", metavar="PERSON", help="who asks: someone who may record KPI readings")
    p.add_argument("--json", action="store_true")

    p = add("evidence", "the evidence a gate's approvals pinned; --verify checks it is unchanged", "sources:cmd_evidence")
    p.add_argument("id")
    p.add_argument("gate")
    p.add_argument(
        "--verify", action="store_true", help="fetch it again: exit 0 all unchanged, 1 changed, 3 could not check"
    )
    p.add_argument("--json", action="store_true")

    p = add("config", "the settings in force (environment and .env), secrets masked", "seeing:cmd_config")
    p.add_argument("--json", action="store_true")

    p = add("setup", "register the search attributes on a cluster (bpo server does it by itself)", "operating:cmd_setup")
    p.add_argument("--json", action="store_true", help="what was added and what was there, as JSON")

    p = add("notices", "a transition's notifications and how each delivery went", "notices:cmd_notices")
    p.add_argument("id")
    p.add_argument("--failed", action="store_true", help="only deliveries that failed or had recipients refused")
    p.add_argument("--retry", action="store_true", help="send the failed ones again (with --by)")
    p.add_argument("--by", help="who sends them again: someone who may pause the transition")
    p.add_argument("--json", action="store_true")

    p = add("audit", "the audit trail of a transition, from the audit database", "seeing:cmd_audit")
    p.add_argument("id")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--verify", action="store_true", help="check the chain and every signature: exit 0 intact, 1 not, 3 could not check"
    )

    p = add("analytics", "where the portfolio loses time: phases, gate turnaround, waits, reworks", "portfolio:cmd_analytics")
    p.add_argument("--client", help="only this client's transitions (from their plans, which Temporal holds)")
    p.add_argument("--provider", help="only this provider's transitions (from their plans)")
    p.add_argument("--program", metavar="ID", help="a program's id: it and its workstreams")
    p.add_argument("--since", metavar="DATE", help="only transitions started on or after this day (2027-01-31)")
    p.add_argument("--until", metavar="DATE", help="only transitions started on or before this day")
    p.add_argument("--json", action="store_true")

    p = add("export", "a trail's decisions, readings, RAID log, settlements, escalations or costs as CSV or xlsx", "portfolio:cmd_export")
    p.add_argument("id", nargs="?", help="the transition (or --all)")
    p.add_argument("--all", action="store_true", help="every transition in the audit database")
    p.add_argument("--what", required=True, choices=["decisions", "readings", "raid", "settlements", "escalations", "costs"])
    p.add_argument("--format", default="csv", choices=["csv", "xlsx"], help="default csv")
    p.add_argument("--out", required=True, metavar="FILE", help="where to write it")
    p.add_argument("--json", action="store_true", help="what was written, as JSON: out, what, format, rows")

    from bpo.commands.registry import add_commands  # approve, tick, reject, waive, pause, ...

    add_commands(add)

    p = add("kpi", "record KPI readings: --period LABEL METRIC=VALUE...", "deciding:cmd_kpi")
    p.add_argument("id")
    p.add_argument("readings", nargs="*", metavar="METRIC=VALUE")
    p.add_argument("--period", metavar="LABEL", help="the reporting period, for example 2027-W09")
    p.add_argument("--file", metavar="READINGS.csv", help="readings as CSV: period,metric,value; all or none")
    p.add_argument("--by", required=True, metavar="PERSON", help="who reports them: a KPI reporter on the roster")
    p.add_argument("--correct", action="store_true", help="replace readings already recorded for the period")
    p.add_argument("--reason", help="with --correct: why the recorded value was wrong")
    p.add_argument("--request-id")
    p.add_argument("--json", action="store_true", help="print the status after it as JSON (as bpo status --json)")

    p = add("delegate", "let someone decide in another's stead until a date (or --end it)", "deciding:cmd_delegate")
    p.add_argument("id")
    p.add_argument("--from", dest="person", required=True, metavar="PERSON", help="whose decisions are delegated")
    p.add_argument("--to", metavar="PERSON", help="who decides in their stead (on the roster)")
    p.add_argument("--until", metavar="DATE", help="the last day: 2027-02-01, or a duration from now such as 30d")
    p.add_argument("--end", action="store_true", help="end the person's delegation now")
    p.add_argument("--by", required=True, metavar="PERSON", help="the person, or an executive sponsor of their side")
    p.add_argument("--request-id", help="makes a retried command count once")
    p.add_argument("--json", action="store_true", help="print the status after it as JSON (as bpo status --json)")

    p = add("amend", "propose a new version of a running transition's plan (a sponsor approves it)", "deciding:cmd_amend")
    p.add_argument("id")
    p.add_argument("plan", help="the new version, a whole plan file")
    p.add_argument("--reason", required=True, help="why the plan changes")
    p.add_argument("--by", required=True, metavar="PERSON", help="who proposes it: a lead on the roster")
    p.add_argument("--request-id", help="makes a retried command count once")
    p.add_argument("--json", action="store_true", help="print the status after it as JSON (as bpo status --json)")

    p = add("raid", "the RAID log: add an item, close one, list them", "deciding:cmd_raid")
    p.add_argument("id")
    p.add_argument("action", choices=["add", "close", "list"])
    p.add_argument("item", nargs="?", help="with close: the item, for example A-2")
    p.add_argument("--kind", choices=["risk", "action", "issue", "decision"], help="with add")
    p.add_argument("--title", help="with add: what it is")
    p.add_argument("--owner", metavar="PERSON", help="with add: who owns it (on the roster)")
    p.add_argument("--due", metavar="DATE", help="with add: when it is due: 2027-02-01, or a duration from now such as 30d")
    p.add_argument("--severity", choices=["low", "medium", "high", "critical"], help="with add (default medium)")
    p.add_argument("--blocks", metavar="GATE", help="with add: a gate it holds until it is closed")
    p.add_argument("--note", help="with close: how it was settled")
    p.add_argument("--by", metavar="PERSON", help="your id on the roster (add, close)")
    p.add_argument("--request-id", help="makes a retried command count once")
    p.add_argument("--json", action="store_true", help="list: the items as JSON; add, close: the status after it")

    p = add("roster", "add a person to the roster (or replace their entry), or take people off it", "deciding:cmd_roster")
    p.add_argument("id")
    p.add_argument("--add", metavar="PERSON", help="the person's id, usually their email address")
    p.add_argument("--name", help="with --add: the person's name")
    p.add_argument("--org", choices=["client", "provider", "third_party"], help="with --add (default client)")
    p.add_argument("--role", action="extend", nargs="+", metavar="ROLE", help="with --add: one or more roles")
    p.add_argument("--email", help="with --add: where their mail goes, if their id is not an address")
    p.add_argument("--remove", action="append", default=[], metavar="PERSON", help="take a person off; repeatable")
    p.add_argument("--by", required=True, metavar="PERSON", help="your id on the roster")
    p.add_argument("--request-id", help="makes a retried command count once")
    p.add_argument("--json", action="store_true", help="print the status after it as JSON (as bpo status --json)")

    # Run by `main` itself, before the settings are read: see there.
    p = add("completion", "print a completion script: source <(bpo completion bash)", "completion:completion_script")
    p.add_argument("shell", choices=["bash", "zsh", "fish"])
    return parser


PIPE_CLOSED = 141
"""The exit code when standard output closed early (``bpo list | head -1``): 128 + SIGPIPE, what a
shell reports for any Unix tool that stops there."""


def _pipe_closed() -> int:
    """Standard output's reader went away: stop quietly. What is still buffered goes nowhere, so
    that flushing it at exit cannot raise again."""
    with contextlib.suppress(OSError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return PIPE_CLOSED


def parse_args(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> argparse.Namespace:
    """``argv`` as `bpo` reads it; a usage error exits 2 (argparse's ``SystemExit``)."""
    args, extra = parser.parse_known_args(argv)
    # argparse will not take positionals after an option (`kpi ID --period P csat=90`), so
    # readings that follow --period arrive here.
    if args.command == "kpi" and not any(e.startswith("-") for e in extra):
        args.readings += extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit code (0 done, 2 refused, 1 failed or changed, 3 could
    not check, 141 standard output closed early)."""
    parser = build_parser()
    args = parse_args(parser, argv)
    from bpo.commands.arguments import check_arguments

    try:
        check_arguments(parser, args)
    except Exit as exc:
        print(f"bpo {args.command}: {exc}", file=sys.stderr)
        return exc.code
    if args.command == "completion":  # needs no settings: a broken .env must not break a shell's start
        from bpo.commands.completion import completion_script

        sys.stdout.write(completion_script(parser, args.shell))
        return 0
    try:
        settings = get_settings()
    except ValidationError as exc:
        wrong = describe(exc, show_input=False)  # a setting may be a secret: never repeated
        print(f"bpo {args.command}: a setting in the environment or .env is wrong: {wrong}", file=sys.stderr)
        return REFUSED
    from infra.logs import configure

    configure(settings.log_format, "warning" if args.command not in ("worker", "up") else settings.log_level)
    try:
        module, name = args.func.split(":")
        result = getattr(importlib.import_module(f"bpo.commands.{module}"), name)(args, settings)
        if isinstance(result, Coroutine):
            asyncio.run(result)
    except Exit as exc:
        print(f"bpo {args.command}: {exc}", file=sys.stderr)
        return exc.code
    except BpoError as exc:
        message = with_hint(str(exc), exc.kind, getattr(args, "id", None) or "ID")
        print(f"bpo {args.command}: {message}", file=sys.stderr)
        return REFUSED if exc.refused else FAILED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `bpo config | head -1`: the reader has what it wanted
        return _pipe_closed()
    except Exception as exc:  # a person gets a sentence, not a traceback
        if _unavailable(exc):  # the server went away after connecting
            print(f"bpo {args.command}: {unreachable(settings, exc)}", file=sys.stderr)
            return FAILED
        # A library's message may quote a URL it was given (an HTTP error names its URL): masked.
        print(f"bpo {args.command}: failed: {type(exc).__name__}: {make_url_safe(str(exc))}", file=sys.stderr)
        return FAILED
    return 0


def _unavailable(error: Exception) -> bool:
    """Whether ``error`` is Temporal's "unavailable": a server that stopped answering mid-command,
    or none that answered at all (`infra.client.Unreachable`: `bpo web`)."""
    if (client := sys.modules.get("infra.client")) and isinstance(error, client.Unreachable):
        return True
    if "temporalio.service" not in sys.modules:  # nothing reached Temporal: it cannot be its error
        return False
    from temporalio.service import RPCError, RPCStatusCode

    return isinstance(error, RPCError) and error.status == RPCStatusCode.UNAVAILABLE


def entry() -> None:
    """The console script: run `main`, then leave without tearing down Temporal's native threads,
    which can abort the interpreter at exit (a known hazard of short-lived SDK clients)."""
    try:
        code = main()
    except SystemExit as exc:  # argparse's --help, --version and usage errors
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BrokenPipeError:  # --help into `head -1`
        code = _pipe_closed()
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # what was buffered found the reader gone
        code = _pipe_closed()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
