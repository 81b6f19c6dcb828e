"""Repeats and replays: which request ids a transition remembers, and whether a signature is fresh.

Every signed command carries the time it was signed (``signed_at``) and a request id. An update
must arrive within `WINDOW` of its signing (checked in the validator against the time the update
arrives); a signal, or a command a program relays later, is checked for a repeated request id
only. Request ids are remembered by time and by count: each for `REMEMBER` after it was applied,
and the newest `KEEP_NEWEST` however old (as before signatures were bound, so a retry months
later still counts once), at most `MAX_REMEMBERED` at once, carried across continue-as-new; and
a signed command signed at or before the newest id forgotten is refused, since it cannot be told
from a repeat. So a recorded, signed command is refused however many commands came after it.

A validly signed command that was refused is remembered too (`remember_refused`, the same window
and bounds), and its request id refused for good: its material stays in the ``signal_refused``
audit row or the update's history, and would otherwise pass once the state had moved on. A
person's retry is a new attempt with a new request id (the command line and the web app make one
each time), so it is not caught.

Size: a steady-state year keeps its last 500 ids (or its last 30 days', if more): some 40 KB of
state, as the 500 ids kept before; `MAX_REMEMBERED` bounds a burst at 2,000 (about 200 KB), after
which the oldest are forgotten early and their era refused as above.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from models.commands import Command
from models.signing import verify
from workflows.rules.clock import View
from workflows.rules.refusals import RefusalKind, Refused
from workflows.rules.versions import REFUSALS_REMEMBERED, SIGNATURES_BOUND

WINDOW = timedelta(minutes=10)
"""How far an update's signing time may be from its arrival, either way (clocks drift)."""
REMEMBER = timedelta(days=30)
"""How long a request id is remembered: far longer than `WINDOW`, so a signal delayed by an
outage of a worker (or relayed by a program) still counts once."""
MAX_REMEMBERED = 2000
KEEP_NEWEST = 500
"""Request ids kept however old: what was remembered before ids were kept by time."""


def bound(v: View) -> bool:
    """Whether signatures cover the run family and the time in this transition."""
    return bool(v.state.trusted_keys) and v.changed(SIGNATURES_BOUND)


def is_repeat(v: View, command: Command) -> bool:
    """Whether ``command`` carries a request id already applied."""
    rid = command.request_id
    return bool(rid) and (rid in v.state.requests or rid in v.state.seen_requests)


def check_not_forgotten(v: View, command: Command) -> None:
    """Refuse a signed command signed when ids it might repeat were already forgotten."""
    at, horizon = command.signed_at, v.state.forgotten_before
    if at is not None and horizon is not None and at <= horizon:
        raise Refused(
            f"the {command.update} command was signed at {at:%Y-%m-%d %H:%M:%S} UTC, before the oldest request "
            "this transition still remembers, so it cannot be told from a replay; sign it again",
            RefusalKind.REPLAYED,
        )


def check_not_refused(v: View, command: Command) -> None:
    """Refuse a signed command whose request id belongs to a command already refused."""
    rid = command.request_id
    when = v.state.refused_requests.get(rid) if rid else None
    if when is not None:
        raise Refused(
            f"request id '{rid}' belongs to a {command.update} command refused at {when:%Y-%m-%d %H:%M:%S} UTC; "
            "a refused command is never taken later from its record: send it anew, with a new request id",
            RefusalKind.REFUSED_BEFORE,
        )


def remember_refused(v: View, command: Command, now: datetime) -> None:
    """Remember the request id of ``command``, just refused, if a trusted key signed it for this
    transition: whoever reads its record may not send it again once it would pass. An unsigned
    or forged one is not remembered, so no one can spoil a request id they cannot sign."""
    rid = command.request_id
    if not rid or command.signed_at is None or not bound(v) or rid in v.state.refused_requests:
        return
    if not verify(v.state.trusted_keys, v.state.id, command, v.state.first_run_id):
        return
    if not v.changed(REFUSALS_REMEMBERED):
        return
    s = v.state
    s.refused_requests = {**s.refused_requests, rid: max(now, command.signed_at)}
    s.refused_requests = _forget(v, s.refused_requests, now)


def check_fresh(v: View, command: Command, now: datetime) -> None:
    """Refuse an update signed more than `WINDOW` away from ``now``, the time it arrives."""
    if not bound(v) or command.signed_at is None:
        return
    if abs(now - command.signed_at) > WINDOW:
        minutes = int(WINDOW.total_seconds() // 60)
        raise Refused(
            f"the {command.update} command was signed at {command.signed_at:%Y-%m-%d %H:%M:%S} UTC and arrived at "
            f"{now:%Y-%m-%d %H:%M:%S} UTC; an update must arrive within {minutes} minutes of its signature "
            "(sign it again, or check this machine's clock)",
            RefusalKind.STALE,
        )


def stale_start(signed_at: datetime | None, started: datetime) -> str | None:
    """Why a signed start made at ``signed_at`` may not begin a run Temporal started at
    ``started``, or None: a start, like an update, is signed within `WINDOW` of its arrival, so
    one recorded in an ended transition's history cannot be sent again later."""
    if signed_at is not None and abs(started - signed_at) <= WINDOW:
        return None
    minutes = int(WINDOW.total_seconds() // 60)
    when = f"at {signed_at:%Y-%m-%d %H:%M:%S} UTC" if signed_at else "at no stated time"
    return (
        f"the start was signed {when} and Temporal started the run at {started:%Y-%m-%d %H:%M:%S} UTC; a start must "
        f"be signed within {minutes} minutes of it, so one recorded earlier cannot be started again (sign a new start)"
    )


def remember(v: View, command: Command, now: datetime) -> None:
    """Remember ``command``'s request id, and forget those older than `REMEMBER` but for the
    newest `KEEP_NEWEST`."""
    s = v.state
    if command.request_id:
        s.requests = {**s.requests, command.request_id: max(now, command.signed_at or now)}
    s.requests = _forget(v, s.requests, now)


def _forget(v: View, ids: dict[str, datetime], now: datetime) -> dict[str, datetime]:
    """``ids`` without those older than `REMEMBER` but for the newest `KEEP_NEWEST`, at most
    `MAX_REMEMBERED`; what is dropped moves ``forgotten_before`` on, so it stays refused."""
    s = v.state
    cutoff = now - REMEMBER
    kept = sorted(ids.items(), key=lambda item: item[1])
    drop = [item for item in kept[:-KEEP_NEWEST] if item[1] < cutoff]
    if len(kept) - len(drop) > MAX_REMEMBERED:
        drop = kept[: len(kept) - MAX_REMEMBERED]
    if not drop:
        return ids
    newest = drop[-1][1]
    s.forgotten_before = max(newest, s.forgotten_before) if s.forgotten_before else newest
    return dict(kept[len(drop) :])
