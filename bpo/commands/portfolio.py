"""Commands for the program office's view across transitions: `bpo analytics` (where the
portfolio loses time) and `bpo export` (a trail's rows for a spreadsheet)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime

from pydantic import ValidationError

from bpo.commands.common import REFUSED, Exit, audit_engine, client_for, date_option, out_file
from infra.settings import Settings
from models.analytics import AnalyticsFilter
from models.errors import describe


def filter_of(args: argparse.Namespace) -> AnalyticsFilter:
    """The filter the options ask for, or exit 2 saying which option is wrong."""
    try:
        return AnalyticsFilter(
            client=args.client,
            provider=args.provider,
            program=args.program,
            since=_day(args.since, "--since"),
            until=_day(args.until, "--until"),
        )
    except ValidationError as error:
        raise Exit(f"the filter is wrong: {describe(error)}", REFUSED) from None


def _day(text: str | None, option: str) -> date | None:
    """A day the analytics look back to: a date, or a duration ago (``--since 90d``)."""
    return date_option(text, option.removeprefix("--"), ago=True)


async def cmd_analytics(args: argparse.Namespace, settings: Settings) -> None:
    """Where the portfolio loses time, from the audit database: phases planned against actual,
    gate turnaround, what waits now, reworks, escalations, waivers, pauses and go-live.
    Each transition's plan comes from Temporal (as last read when it is away: the trail's own
    figures where it was never read), unless the client or provider is asked for, which only
    Temporal says for sure."""
    from bpo.analytics import analytics_text, portfolio

    query = filter_of(args)
    engine = audit_engine(settings)
    try:
        client = await client_for(settings)
    except Exit as away:
        if query.client or query.provider:
            raise Exit(f"--client and --provider are the plan's, which Temporal holds: {away}", away.code) from None
        client = None
    found = await portfolio(engine, client, query, datetime.now(UTC))
    if client is None:
        unreached = (
            "Temporal could not be reached: each plan as last read (a change since is not seen), none where never read"
        )
        found = found.model_copy(update={"missing": [unreached, *found.missing]})
    print(found.model_dump_json(indent=2) if args.json else analytics_text(found))


async def cmd_export(args: argparse.Namespace, settings: Settings) -> None:
    """One transition's rows (or, with ``--all``, every transition's) of one kind, from the audit
    database, as CSV or xlsx in ``--out``."""
    from infra.exports import export_rows, to_csv, to_xlsx

    if (args.id is None) == (not args.all):
        raise Exit("name one transition's ID, or --all for every transition (not both)", REFUSED)
    out = out_file(args.out, settings)
    engine = audit_engine(settings)
    if not args.all:  # what the transition accepted and lets linger is written first, as for bpo audit
        from bpo.commands.seeing import written_first

        await written_first(settings, args.id)
    header, rows = export_rows(engine, args.what, None if args.all else args.id)
    out.write_bytes(to_csv(header, rows) if args.format == "csv" else to_xlsx(header, rows, args.what))
    if args.json:
        print(json.dumps({"out": str(out), "what": args.what, "format": args.format, "rows": len(rows)}, indent=2))
    else:
        print(f"wrote {out}: {len(rows)} rows of {args.what}")
    if not rows:
        print(
            f"note: the audit trail has no {args.what} for {'any transition' if args.all else repr(args.id)}",
            file=sys.stderr,
        )
