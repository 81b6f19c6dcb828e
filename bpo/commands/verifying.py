"""`bpo audit --verify`: the audit table held against its own chain and against what the
transition recorded in Temporal's history (`bpo.anchors`).

Exit 0 when both hold; 1 naming the first thing that does not: a row altered, removed or
inserted by hand, a signature no trusted key made, a row that does not match a recorded head, a
row the transition could not write because another stood under its id, rows after an ended
transition's last head, or a run made by a reset; 3 (`UNCHECKED`) when the chain holds but a
rewrite of the table cannot be ruled out: the heads could not be read, none was recorded, or a
running transition has rows after its last head while its history shows no flush under way
(`bpo.anchors.under_way`: never the rows' own times, which whoever writes the table sets). Runs
of another workflow type under the transition's id are named, and change none of this.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bpo.commands.common import FAILED, UNCHECKED, Exit, unreachable

if TYPE_CHECKING:
    from bpo.anchors import Recorded
    from infra.settings import Settings

GRACE = timedelta(seconds=60)
"""How long a running transition's workflow task may have been waiting or running, by the
server's clock, and still count as the flush that wrote the rows after its last recorded head. A
flush reads the head right after it writes, inside a workflow task, so only a flush under way
(or a worker stopped in the middle of one) leaves rows after it."""


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


async def read_under_way(settings: Settings, transition_id: str, record: Recorded | str | None) -> None:
    """Ask the server, once the table has been read, whether the transition was writing it
    (`bpo.anchors.under_way`), and keep the answer in ``record``. Unanswered: not under way."""
    from bpo.anchors import Recorded, under_way
    from infra.client import connect

    if not isinstance(record, Recorded):
        return
    try:
        record.under_way = await under_way(await connect(settings), transition_id, record, GRACE, datetime.now(UTC))
    except Exception:  # a server away since the heads were read: rows after them stay unchecked
        record.under_way = False


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
        after = f"; rows {last + 1}-{verdict.rows} were written after it, moments ago" if verdict.rows > last else ""
        said = f"{said}, and it matches the chain head the transition recorded in Temporal (row {last}){after}"
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
    if recorded.under_way:
        return None, None  # a flush under way: its head is being recorded
    return None, (
        f"{which} were written after the last head the transition recorded (row {last}), and its history shows "
        f"no flush under way (none in the last {int(GRACE.total_seconds())} seconds) to record them (is the worker "
        "running? its log says why a flush could not write)"
    )
