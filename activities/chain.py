"""The audit trail's hash chain: each row of a transition holds the hash of the row before it.

A row's hash is SHA-256 over its canonical JSON (every column that says what happened, its
position and the previous hash). Editing, removing or inserting a row by hand breaks the chain
at that row, and a signed command's signature can be checked against the transition's trusted
keys without trusting the database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from models.commands import BY_UPDATE
from models.signing import canonical_json, verify
from models.tables import AuditRecord

GENESIS = "0" * 64


def row_hash(row: AuditRecord) -> str:
    """The hash a row must carry, given its content, position and previous hash."""
    at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
    content: dict[str, Any] = {
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
        "position": row.position,
        "prev_hash": row.prev_hash,
    }
    return hashlib.sha256(canonical_json(content)).hexdigest()


@dataclass
class Verdict:
    """What `verify_chain` found: the rows checked, the signatures among them, the first break."""

    rows: int
    signed: int
    problem: str | None = None


def _name(row: AuditRecord) -> str:
    return f"row {row.position} ({row.kind}{' ' + row.gate if row.gate else ''})"


def verify_chain(rows: Sequence[AuditRecord]) -> Verdict:
    """Walk one transition's rows in chain order: every link, every hash, every signature.

    The trusted keys come from the chain's first row (``transition_started``), itself covered
    by the chain.
    """
    chained = sorted(rows, key=lambda r: r.position or 0)
    trusted: list[str] = []
    prev, signed = GENESIS, 0
    for expected, row in enumerate(chained, start=1):
        if row.position is None or row.hash is None:
            return Verdict(expected - 1, signed, f"{_name(row)} is outside the chain: it was inserted by hand")
        if row.position != expected:
            return Verdict(expected - 1, signed, f"row {expected} was removed (the next row is {_name(row)})")
        if row.prev_hash != prev:
            return Verdict(expected - 1, signed, f"{_name(row)} does not follow row {expected - 1}: rows were removed or inserted")
        if row_hash(row) != row.hash:
            return Verdict(expected - 1, signed, f"{_name(row)} was altered")
        if row.kind == "transition_started":
            trusted = list(row.detail.get("trusted_keys", []))
        if row.signature:
            if not _signature_holds(row, trusted):
                return Verdict(expected - 1, signed, f"{_name(row)} carries a signature that no trusted key made")
            signed += 1
        if row.kind == "keys_rotated" and row.signature:  # signed by a key trusted before it
            trusted = list(row.detail.get("trusted_keys", []))
        prev = row.hash
    return Verdict(len(chained), signed)


def _signature_holds(row: AuditRecord, trusted: list[str]) -> bool:
    signed = row.detail.get("signed") or {}
    command_type = BY_UPDATE.get(signed.get("command", ""))
    if command_type is None:
        return False
    try:
        command = command_type.model_validate({**signed.get("fields", {}), "signature": row.signature})
    except ValueError:
        return False
    return getattr(command, "by", row.actor) == row.actor and verify(trusted, row.transition_id, command, signed.get("run"))
