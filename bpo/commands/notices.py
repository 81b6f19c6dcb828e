"""`bpo notices`: a transition's notifications and how each delivery went, from the audit trail,
the digests the mail server refused, and the workflow's deliveries waiting for another try."""

from __future__ import annotations

import argparse
import json
from typing import Any

from bpo.commands.common import Exit, audit_engine, client_for, print_status
from bpo.commands.seeing import _trail
from infra.masking import make_url_safe
from infra.settings import Settings


async def cmd_notices(args: argparse.Namespace, settings: Settings) -> None:
    """A transition's notifications, one line per notice and channel, with how delivery went:
    sent and failed from the audit trail, waiting for another try from the workflow; ``--retry``
    sends the failed ones again."""
    from bpo.api import get_deliveries
    from bpo.commands.arguments import only_with
    from bpo.render import table

    only_with(args, "--retry", args.retry, "by")
    if args.retry:
        from bpo.commands.deciding import send_from_cli
        from models.commands import RetryNotices

        if not args.by:
            raise Exit("--retry needs --by PERSON: someone who may pause the transition may send them again")
        status = await send_from_cli(settings, args.id, RetryNotices(by=args.by))
        if args.json:
            print_status(status, True)
            return
        print(f"sending again; {status.notices_pending} deliveries waiting, {status.notices_failed} failed")
        return
    from models.audit_events import events_of  # the trail's event models, only when read (`bpo status` is quicker)
    from models.audit_events.happenings import DeferredToDigest, NotificationFailed, NotificationSent

    kinds = (NotificationSent, NotificationFailed, DeferredToDigest)
    rows = [e for e in events_of(_trail(settings, args.id)) if isinstance(e, kinds)]
    deliveries: list[dict[str, Any]] = [
        {
            "notice": e.notice,
            "about": e.about,
            "channel": e.channel,
            "state": "failed" if isinstance(e, NotificationFailed) else "sent" if isinstance(e, NotificationSent) else e.kind,
            "at": e.at.isoformat(),
            "subject": e.subject,
            "recipients": e.recipients,
            "refused": e.refused if isinstance(e, NotificationSent) else {},
            "error": e.error if isinstance(e, NotificationFailed) else None,
            "attempts": None,
        }
        for e in rows
    ]
    deliveries += _digests_refused(settings, args.id)
    try:
        waiting = await get_deliveries(await client_for(settings), args.id)
    except Exception:  # a server away, a transition from before the outbox: the trail alone
        waiting = None
    if waiting is not None:
        sent = {(d["notice"], d["channel"]) for d in deliveries if d["state"] == "sent"}
        for p in waiting.pending:
            if (p.delivery.notice.id, p.delivery.channel.kind) in sent:
                continue
            deliveries.append(
                {
                    "notice": p.delivery.notice.id,
                    "about": p.delivery.notice.kind,
                    "channel": p.delivery.channel.kind,
                    "state": "waiting",
                    "at": p.next_at.isoformat(),
                    "subject": p.delivery.notice.subject,
                    "recipients": [r.id for r in p.delivery.notice.recipients],
                    "refused": {},
                    "error": p.error,
                    "attempts": p.attempts,
                }
            )
    for d in deliveries:  # an error kept before masking was the rule may name a URL with its token
        d["error"] = make_url_safe(d["error"]) if d["error"] else d["error"]
    if not deliveries and waiting is None:
        raise Exit(f"the audit trail has nothing for '{args.id}' in {make_url_safe(settings.audit_url)}")
    if args.failed:
        deliveries = [d for d in deliveries if d["state"] == "failed" or d["refused"]]
    if args.json:
        print(json.dumps(deliveries, indent=2))
    elif not deliveries:
        print("no failed deliveries" if args.failed else "no notifications delivered yet")
    else:
        keys = ("at", "about", "channel", "state", "subject", "error")
        print(table([k.upper() for k in keys], [[str(d[k] or "")[:70] for k in keys] for d in deliveries]))
        for d in (d for d in deliveries if d["channel"] == "digest"):  # in full: the table cuts the words
            (person, why), = d["refused"].items()
            print(f"\n{d['notice']} ({d['subject']}) never reached {person}: their mail server refused the digest "
                  f"for good at {d['at']} ({why}); it is not tried again")  # fmt: skip
        if waiting and waiting.failed:
            print(f"\n{len(waiting.failed)} failed; send them again with: bpo notices {args.id} --retry --by PERSON")


def _digests_refused(settings: Settings, transition_id: str) -> list[dict[str, Any]]:
    """The transition's notices held for digests that the mail server refused for good, as deliveries."""
    from infra.digests import refused_in
    from models.deliveries import Notice

    found = []
    for item in refused_in(audit_engine(settings), transition_id):
        notice = Notice.model_validate(item.notice)
        person = next((r.id for r in notice.recipients if (r.email or "").lower() == item.person), item.person)
        found.append({"notice": item.notice_id, "about": item.kind, "channel": "digest", "state": "refused",
                      "at": (item.refused_at or item.held_at).isoformat(), "subject": notice.subject,
                      "recipients": [person], "refused": {person: item.refused_why},
                      "error": f"{item.person}'s mail server refused the digest for good: {item.refused_why}",
                      "attempts": None})  # fmt: skip
    return found
