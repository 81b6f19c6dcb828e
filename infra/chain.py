"""The audit trail's hash chain: each row of a transition holds the hash of the row before it.

A row's hash is SHA-256 over its canonical JSON (every column that says what happened, its
position and the previous hash). Editing, removing or inserting a row by hand breaks the chain
at that row, and a signed command's signature can be checked against the transition's trusted
keys without trusting the database. In a transition that trusts keys, every row made from a
command sent by a person (the web app, the command line, the API) must carry a signature. The
workflow records the chain's head in its own history after each flush (`ChainHead`), so a chain
rebuilt by hand after an edit no longer matches what the transition recorded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from models.commands import BY_UPDATE
from models.commands import COMMANDS as COMMAND_MODELS
from models.deliveries import ChainHead
from models.keys import same_key
from models.program import RELAYED
from models.signing import canonical_json, verify
from models.tables import AuditRecord
from models.workstreams import split_id

GENESIS = "0" * 64
SENT_BY_PEOPLE = frozenset({"web-oidc", "web-link", "cli", "api", "slack"})
"""How a command sent by a person arrives; its row must be signed where the transition trusts
keys. Feed readings (``feed``) and the transition's own rows (no ``via``) are not commands."""
READINGS = frozenset({"kpi_reading", "kpi_corrected"})
COMMANDS = READINGS | {kind for command in COMMAND_MODELS for kind in command.audited}
"""The kinds of row only a person's command makes: signed where the transition trusts keys
however the row says it came (a command sent straight to Temporal has no ``via``), except
readings a KPI feed brought (``via`` ``feed``), which the transition pulled itself."""
REFUSALS = frozenset({"signal_refused"})
"""Rows that record a command the rules refused (an unsigned one among them): nothing changed."""


class ChainRow(Protocol):
    """What the chain reads of a row: a stored `AuditRecord`, a row read in SQLAlchemy Core, or
    the values a write is about to insert."""

    transition_id: str
    event_id: str
    kind: str
    phase: str
    gate: str | None
    actor: str | None
    at: datetime
    detail: dict[str, Any]
    via: str | None
    signature: str | None
    position: int | None
    prev_hash: str | None


def row_hash(row: ChainRow) -> str:
    """The hash a row must carry, given its content, position and previous hash."""
    content = {**row_content(row), "position": row.position, "prev_hash": row.prev_hash}
    return hashlib.sha256(canonical_json(content)).hexdigest()


def row_content(row: ChainRow) -> dict[str, Any]:
    """What a row says happened: the columns its hash covers, but its place in the chain."""
    at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
    return {
        "transition_id": row.transition_id,
        "event_id": row.event_id,
        "kind": row.kind,
        "phase": row.phase,
        "gate": row.gate,
        "actor": row.actor,
        "at": at.astimezone(UTC).isoformat(),
        "detail": row.detail,
        "via": row.via,
        "signature": row.signature,
    }


@dataclass
class Verdict:
    """What `verify_chain` found: the rows checked, the signatures among them, the first break."""

    rows: int
    signed: int
    problem: str | None = None
    keyless: bool = False
    """The chain holds, and its transition trusts no key: its commands went unsigned."""


def _name(row: AuditRecord) -> str:
    return f"row {row.position} ({row.kind}{' ' + row.gate if row.gate else ''})"


def verify_chain(rows: Sequence[AuditRecord]) -> Verdict:
    """Walk one transition's rows in chain order: every link, every hash, every signature.

    The trusted keys come from the chain's first row (``transition_started``), itself covered
    by the chain.
    """
    chained = sorted(rows, key=lambda r: r.position or 0)
    trusted: list[str] = []
    program: str | None = None  # a workstream's, named by its first row
    covered: set[tuple[str, bytes]] = set()
    applied: dict[str, str] = {}
    prev, signed = GENESIS, 0
    for expected, row in enumerate(chained, start=1):
        if row.position is None or row.hash is None:
            return Verdict(expected - 1, signed, f"{_name(row)} is outside the chain: it was inserted by hand")
        if row.position != expected:
            return Verdict(expected - 1, signed, f"row {expected} was removed (the next row is {_name(row)})")
        if row.prev_hash != prev:
            return Verdict(
                expected - 1, signed, f"{_name(row)} does not follow row {expected - 1}: rows were removed or inserted"
            )
        if row_hash(row) != row.hash:
            return Verdict(expected - 1, signed, f"{_name(row)} was altered")
        if not isinstance(row.detail, dict):  # a row put there by hand, and hashed to fit
            return Verdict(expected - 1, signed, f"{_name(row)} carries a detail the engine never writes")
        if row.kind == "transition_started":  # the keys come from the first row only
            if expected != 1:
                return Verdict(expected - 1, signed, f"{_name(row)} starts the transition again in the middle")
            trusted = list(row.detail.get("trusted_keys", []))
            program = row.detail.get("program")
        if row.signature:
            if not _signature_holds(row, trusted, program):
                return Verdict(expected - 1, signed, f"{_name(row)} carries a signature that no trusted key made")
            request = _fields(row).get("request_id")
            if request and request in applied and row.kind in COMMANDS:  # one command, one decision
                return Verdict(
                    expected - 1, signed, f"{_name(row)} repeats the signed request {request!r} of {applied[request]}"
                )
            if request:
                applied.setdefault(request, _name(row))
            signed += 1
            covered = _batch_periods(row)
        elif trusted and _needs_signature(row, covered):
            return Verdict(
                expected - 1,
                signed,
                f"{_name(row)} is not signed: it records a command"
                + (f" sent through {row.via}" if row.via else "")
                + ", and this transition accepts only commands signed by a key it trusts",
            )
        if row.kind == "keys_rotated" and row.signature:  # what the signed command says, not the row
            fields = _fields(row)
            # By the keys' bytes: one key has several base64 spellings.
            trusted = [k for k in trusted if not any(same_key(k, r) for r in fields.get("remove", []))]
            trusted += [k for k in fields.get("add", []) if not any(same_key(k, t) for t in trusted)]
        prev = row.hash
    return Verdict(len(chained), signed, keyless=not trusted)


def _needs_signature(row: AuditRecord, covered: set[tuple[str, bytes]]) -> bool:
    """Whether an unsigned row should have carried a signature: a person's command, unless it
    records a refusal, a feed's readings, or a later period of a signed readings batch (the
    batch's first row carries the signature that covers every period)."""
    if row.kind in REFUSALS or (row.kind in READINGS and row.via == "feed"):
        return False
    if row.kind not in COMMANDS and row.via not in SENT_BY_PEOPLE:
        return False
    period = row.detail.get("period")
    values = row.detail.get("values")
    return not (isinstance(period, str) and (period, canonical_json(values)) in covered)


def _batch_periods(row: AuditRecord) -> set[tuple[str, bytes]]:
    """The periods and values a signed readings batch covers (nothing for any other command)."""
    if _signed(row).get("command") != "record_batch":
        return set()
    batches = _fields(row).get("batches", [])
    return {(b["period"], canonical_json(b["values"])) for b in batches if isinstance(b, dict) and "period" in b}


def _signed(row: AuditRecord) -> dict[str, Any]:
    """The signed command a row carries (``detail.signed``), or nothing: a row put there by hand
    may carry anything, and is then refused, never a crash of the check."""
    signed = row.detail.get("signed") if isinstance(row.detail, dict) else None
    return signed if isinstance(signed, dict) else {}


def _fields(row: AuditRecord) -> dict[str, Any]:
    fields = _signed(row).get("fields")
    return fields if isinstance(fields, dict) else {}


def hold_to_heads(rows: Sequence[AuditRecord], heads: Sequence[ChainHead]) -> str | None:
    """Hold a chain that verifies against the heads the transition recorded in its history: the
    row at each recorded position must carry the recorded hash, so a chain rewritten by hand
    (every later hash recomputed) is caught. The first mismatch, in chain order, or none."""
    by_position = {row.position: row for row in rows}
    # Of two heads at one place, the one covering more first: a flush run again in another order
    # records as its own the head a retry's write left, over its earlier try's rows as well.
    ordered = sorted(heads, key=lambda h: (h.position, -1 if h.since is None else h.since))
    for before, after in zip(ordered, ordered[1:]):  # between two flushes nothing else writes
        if after.since is not None and after.since > before.position:
            first, last = by_position.get(before.position + 1), after.since
            return (
                f"{_name(first) if first else f'row {before.position + 1}'} to row {last} were written between "
                "two of the transition's own writes, by something other than the transition"
            )
    for head in sorted({(h.position, h.hash) for h in heads}):
        position, recorded = head
        if position == 0:
            continue
        row = by_position.get(position)
        if row is None:
            return (
                f"the table holds {len(rows)} rows, but the transition recorded its chain head at "
                f"position {position}: rows were removed"
            )
        if row.hash != recorded:
            return f"{_name(row)} does not match the chain head the transition recorded at position {position}"
    return None


def _signature_holds(row: AuditRecord, trusted: list[str], program: str | None = None) -> bool:
    signed = _signed(row)
    command_type = BY_UPDATE.get(str(signed.get("command", "")))
    if command_type is None:
        return False
    try:
        command = command_type.model_validate({**_fields(row), "signature": row.signature})
    except ValueError:
        return False
    # A workstream's row may carry its program's command, relayed: signed for the program, which
    # its first row names, and only a command a program relays (pause, resume, cancel, roster, keys).
    signed_for = signed.get("transition", row.transition_id)
    if signed_for != row.transition_id and (
        signed_for != program or signed_for != split_id(row.transition_id)[0] or command_type.update not in RELAYED
    ):
        return False
    return getattr(command, "by", row.actor) == row.actor and verify(trusted, signed_for, command, signed.get("run"))
