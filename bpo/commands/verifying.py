"""`bpo audit --verify`: the audit table held against its own chain and against what the
transition recorded in Temporal's history (`bpo.anchors`).

Exit 0 when both hold; 1 naming the first thing that does not: a row altered, removed or
inserted by hand, a signature no trusted key made, a row that does not match a recorded head, a
row the transition could not write because another stood under its id, rows after an ended
transition's last head, or a run made by a reset; 3 (`UNCHECKED`) when the chain holds but a
rewrite of the table cannot be ruled out: the heads could not be read, none was recorded, or a
running transition has rows after its last head that no head it records covers while
`--verify` waits (`read_covered`: never the rows' own times, which whoever writes the table sets,
nor a history that grows, which whoever reaches Temporal's port makes it). Runs of another
workflow type under the transition's id are named, and change none of this.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bpo.commands.common import FAILED, UNCHECKED, Exit, unreachable

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from bpo.anchors import Recorded
    from infra.settings import Settings

WAIT = timedelta(seconds=10)
"""How long `--verify` waits for a running transition to record a head over rows after its
last one. A flush writes its rows and records their head in the same workflow task, so rows no
head covers are a flush under way for a moment at most: one the transition does not finish in
this time (a worker stopped mid-flush, or rows it never wrote) leaves them unchecked, exit 3."""
PAUSE = 0.25
"""Seconds between two reads while `--verify` waits for a head (`read_covered`)."""


async def read_recorded(settings: Settings, transition_id: str) -> Recorded | str:
    """What the transition recorded in Temporal's history, or why it could not be read."""
    from bpo.anchors import NoTransition, read_record
    from infra.client import connect

    try:
        client = await connect(settings)
    except Exception as error:  # a server away: said plainly, never in the SDK's words
        return unreachable(settings, error)
    try:
        return await read_record(client, transition_id)
    except NoTransition:
        return f"Temporal at {settings.temporal_address} knows no transition '{transition_id}'"
    except Exception as error:  # a server away, a payload this machine cannot decrypt: unchecked
        return f"Temporal at {settings.temporal_address} could not be read ({type(error).__name__}: {str(error)[:200]})"


async def read_covered(
    read_record: Callable[[], Awaitable[Recorded | str]],
    read_rows: Callable[[], list[Any]],
    wait: timedelta = WAIT,
) -> tuple[Recorded | str, list[Any]]:
    """The heads, then the table, read again until the last head covers the table's last row
    (a flush under way has recorded its head), the transition has ended, or ``wait`` has passed:
    whatever the history does meanwhile, only a head the transition recorded vouches for a row.
    Heads first: a flush between the two reads only adds rows after the last head."""
    from bpo.anchors import Recorded

    deadline = time.monotonic() + wait.total_seconds()
    while True:
        record, rows = await read_record(), read_rows()
        last = max((h.position for h in record.heads), default=None) if isinstance(record, Recorded) else None
        settled = not isinstance(record, Recorded) or record.ended or record.cut_short or last is None
        if settled or (last or 0) >= max((r.position or 0 for r in rows), default=0) or time.monotonic() >= deadline:
            return record, rows
        await asyncio.sleep(PAUSE)


KEYLESS = "this transition trusts no key: its commands are not signed, so rows are not proven to be their signers'"
"""Said by `bpo audit --verify` of a chain that holds in a transition started without keys
(``BPO_ALLOW_UNSIGNED``): the chain shows tampering, but not who sent each command. Exit 0 all
the same: nothing changed, and the transition is as its operator chose to start it."""


def verify_trail(
    transition_id: str,
    rows: list[Any],
    record: Recorded | str | None,
    as_json: bool = False,
) -> None:
    """Walk the chain and its signatures, then hold it against what the transition recorded:
    exit 0 when both hold, 1 naming the first thing that does not, `UNCHECKED` when the chain
    holds but the record could not be read or does not reach its last rows. A transition that
    trusts no key is said so plainly (and, with ``as_json``, as ``trusts_keys``: false), exit 0."""
    from infra.chain import hold_to_heads, verify_chain

    verdict = verify_chain(rows)
    recorded = record if record is not None and not isinstance(record, str) else None
    problem = verdict.problem or (_against(rows, recorded) if recorded else None)
    problem = problem or (hold_to_heads(rows, recorded.heads) if recorded else None)
    last = max((h.position for h in recorded.heads), default=None) if recorded else None
    unchecked = None
    if not problem and last is None:
        unchecked = (
            record if isinstance(record, str) else "the transition recorded no chain head (its trail predates them)"
        )
    elif not problem and recorded and last is not None and verdict.rows > last:
        problem, unchecked = _tail(rows, last, verdict.rows, recorded)
    if not problem and not unchecked and recorded:
        unchecked = _deferred(recorded)
    others = recorded.others if recorded else []
    if as_json:
        print(
            json.dumps(
                {
                    "id": transition_id,
                    "verified": problem is None,
                    "rows": verdict.rows,
                    "signatures": verdict.signed,
                    "trusts_keys": None if problem else not verdict.keyless,
                    "anchor": last,
                    "problem": problem,
                    "unchecked": unchecked,
                    "notes": ([KEYLESS] if verdict.keyless and not problem else []) + others,
                },
                indent=2,
            )
        )
    if not as_json:  # said whatever the verdict: someone reached Temporal and started it
        for other in others:
            print(f"note: {other}")
    if problem:
        raise Exit(f"the audit trail of '{transition_id}' does not verify: {problem}", FAILED)
    said = f"verified {verdict.rows} rows of '{transition_id}': the chain is unbroken, {verdict.signed} signatures hold"
    if last is not None:
        said = f"{said}, and it matches the chain head the transition recorded in Temporal (row {last})"
    if not as_json:
        print(said)
        if verdict.keyless:
            print(f"note: {KEYLESS}")
    if unchecked:
        raise Exit(f"the chain head the transition recorded could not be checked: {unchecked}", UNCHECKED)


def _against(rows: list[Any], recorded: Recorded) -> str | None:
    """What the history says went wrong, whatever the table holds: a run made by a reset (its
    signed decisions after the reset point undone, recorded ones open to be sent again), or a
    flush that found another row under one of its ids."""
    if recorded.resets:
        return (
            f"{recorded.resets[0]}: decisions recorded after the reset point may have been undone, and "
            "the trail no longer tells the transition's state (only operators may reset a transition)"
        )
    if recorded.collisions:
        return f"the transition could not write its own row: {recorded.collisions[0]}"
    return None


def _deferred(recorded: Recorded) -> str | None:
    """Why the rows cannot be checked whole: the newest flush could not write what it carried."""
    if recorded.deferred and not recorded.collisions:
        return (
            f"the transition's last flush could not write its rows ({recorded.deferred}): it holds entries "
            "the table does not have yet"
        )
    return None


def _tail(rows: list[Any], last: int, count: int, recorded: Recorded) -> tuple[str | None, str | None]:
    """Rows after the last recorded head: (the problem, or why they could not be checked)."""
    tail = [r for r in rows if (r.position or 0) > last]
    kinds = ", ".join(dict.fromkeys(r.kind for r in tail))
    which = f"rows {last + 1}-{count} ({kinds})"
    if recorded.ended:
        return (
            f"{which} were written after the transition {recorded.ended} and recorded its last chain head at "
            f"row {last}: a transition that has ended writes nothing more, so they are not its own"
        ), None
    if recorded.cut_short:
        return (
            None,
            f"{which} were written after the last head the transition recorded (row {last}), and it was {recorded.cut_short} from outside, perhaps in the middle of a write",
        )
    return None, (
        f"{which} were written after the last head the transition recorded (row {last}), and no head it recorded "
        f"covered them in the {int(WAIT.total_seconds())} seconds --verify waited (is the worker running? its log "
        "says why a flush could not write)"
    )
