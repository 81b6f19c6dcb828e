"""Commands for what gates look at outside the engine: KPI feeds and pinned evidence."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import datetime

from bpo.api import get_status
from bpo.commands.common import FAILED, UNCHECKED, Exit, audit_engine, client_for, model_input, print_status
from bpo.render import table
from infra.settings import Settings


async def cmd_feed(args: argparse.Namespace, settings: Settings) -> None:
    """A transition's KPI feeds, or (``--pull-now``) a pull at once."""
    if (args.period or args.feed) and not args.pull_now:
        raise Exit("--feed and --period choose what --pull-now pulls; add --pull-now --by PERSON")
    if args.by and not args.pull_now:
        raise Exit("--by says who asks for --pull-now; add --pull-now, or leave --by out to see the feeds")
    if args.pull_now:
        from bpo.commands.deciding import send_from_cli
        from models.commands import PullFeed
        from models.status import TransitionStatus

        if not args.by:
            raise Exit("--pull-now needs --by PERSON: someone who may record KPI readings")
        command = model_input(PullFeed, by=args.by, feed=args.feed, periods=args.period)
        status: TransitionStatus = await send_from_cli(settings, args.id, command)
        if args.json:
            print_status(status, True)
            return
        asking = {name: fs.asking for name, fs in status.feeds.items() if fs.asking}
        print("pulling " + "; ".join(f"{name}: {', '.join(p)}" for name, p in asking.items()) if asking else "pulled")
        return
    status = await get_status(await client_for(settings), args.id)
    if args.json:
        print(json.dumps({k: v.model_dump(mode="json") for k, v in status.feeds.items()}, indent=2))
        return
    if not status.feeds:
        raise Exit(f"'{args.id}' pulls no KPI from a feed")
    rows = [
        [
            name,
            fs.next_period,
            ", ".join(fs.asking) or "-",
            ", ".join(fs.missing) or "-",
            f"{fs.last_at:%Y-%m-%d %H:%M}" if fs.last_at else "never",
            fs.last_problem or "-",
        ]
        for name, fs in status.feeds.items()
    ]
    print(table(["feed", "next period", "pulling", "no data yet", "last pulled", "last problem"], rows))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


async def cmd_evidence(args: argparse.Namespace, settings: Settings) -> None:
    """The evidence pinned by a gate's approvals with its last check's verdict; ``--verify``
    fetches it again (through the guard) and keeps the verdict for the pages: exit 0 when all of
    it is unchanged, 1 when any changed, `UNCHECKED` (3) when none changed but some could not be
    fetched now (or there is no audit database to read)."""
    from bpo.commands.seeing import _trail, written_first
    from bpo.evidence_check import last_verdicts, pinned, verify

    engine = audit_engine(settings, UNCHECKED if args.verify else FAILED)
    await written_first(settings, args.id)
    items = pinned(_trail(settings, args.id, engine), args.gate)
    if not items:
        raise Exit(f"no approval of '{args.gate}' in '{args.id}' pinned its evidence")
    if args.verify:
        await verify(items, settings, engine)
    else:
        last_verdicts(items, engine)
    if args.json:
        shown = [asdict(i) | {"at": i.at.isoformat(), "mark": i.mark, "checked_at": _iso(i.checked_at)} for i in items]
        print(json.dumps(shown, indent=2))
    else:
        rows = [
            [f"{i.at:%Y-%m-%d %H:%M}", i.by or "", i.evidence, f"{i.sha256[:16]}…", f"{i.size:,}", i.mark_when]
            for i in items
        ]
        print(table(["approved", "by", "evidence", "sha256", "bytes", "now"], rows))
    if not args.verify:
        return
    changed = [i for i in items if i.verdict == "changed"]
    unchecked = [i for i in items if i.verdict == "unreachable"]
    if changed:  # a change found outweighs what could not be checked
        more = f" ({len(unchecked)} more could not be checked now)" if unchecked else ""
        raise Exit(f"{len(changed)} of {len(items)} pinned evidence of '{args.gate}' no longer match{more}", FAILED)
    if unchecked:
        raise Exit(
            f"{len(unchecked)} of {len(items)} pinned evidence of '{args.gate}' could not be checked now "
            f"(first: {unchecked[0].problem}); none found changed",
            UNCHECKED,
        )
