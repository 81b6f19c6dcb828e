"""Signed decisions: an Ed25519 signature over a command's canonical form.

The canonical form names the transition, its run family (the first run's id, which stays across
continue-as-new and changes when the id is started again), the command's update and every field
but the signature, ``signed_at`` included, as JSON with sorted keys and no spaces; a signature
copied onto another transition, another run of the same id, another gate or another request
therefore does not verify. A command without ``signed_at`` has the form used before runs and
times were bound (no run), so signatures recorded in older histories still verify on replay. The
workflow checks it in its validators, so the check must be deterministic: it is, and it costs
well under a millisecond.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from models.commands import Command, Sent
from models.keys import fingerprint as fingerprint  # the callers that sign take the key helpers from here too
from models.keys import key_bytes, public_key, public_text
from models.keys import new_key_pair as new_key_pair

if TYPE_CHECKING:
    from models.messages import StartTransition


def signed_fields(command: Sent) -> dict[str, Any]:
    """Every field a signature covers: all but the signature, and ``signed_at`` only when set (a
    command signed before it existed covers the fields it had)."""
    exclude = {"signature"} if command.signed_at is not None else {"signature", "signed_at"}
    fields = command.model_dump(mode="json", exclude=exclude)
    for batch in fields.get("batches") or []:  # a batch's readings are commands too, never signed alone
        if isinstance(batch, dict) and batch.get("signed_at") is None:
            batch.pop("signed_at", None)
    return fields


def canonical(transition_id: str, command: Command, run: str | None = None) -> bytes:
    """The bytes a signature covers: transition, run family (``run``, the first run's id), update
    name and every field but the signature; without ``signed_at``, the older form without a run."""
    body: dict[str, Any] = {"transition": transition_id, "command": command.update, "fields": signed_fields(command)}
    if command.signed_at is not None:
        body["run"] = run or ""
    return canonical_json(body)


def start_canonical(start: StartTransition) -> bytes:
    """The bytes a start's signature covers: the id, the plan, the keys, who and when."""
    fields = start.model_dump(mode="json", include={"id", "plan", "trusted_keys", "started_by", "signed_at"})
    return canonical_json({"start": fields})


def sign_start(signer: Signer, start: StartTransition, at: datetime | None = None) -> StartTransition:
    """A copy of ``start`` signed by ``signer`` at ``at`` (default now)."""
    unsigned = start.model_copy(update={"signature": None, "signed_at": at or datetime.now(UTC)})
    return unsigned.model_copy(update={"signature": signer.sign_bytes(start_canonical(unsigned))})


def start_holds(start: StartTransition) -> bool:
    """Whether ``start`` is signed by one of the keys it trusts (or trusts none)."""
    if not start.trusted_keys:
        return True
    return bool(start.signature) and verify_bytes(start.trusted_keys, start.signature or "", start_canonical(start))


def canonical_json(value: Any) -> bytes:
    """JSON with sorted keys and no spaces: one encoding per value, for hashes and signatures."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class Signer:
    """Signs commands with one private key (``BPO_SIGNING_KEY``)."""

    def __init__(self, private_key: str) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(key_bytes(private_key, "BPO_SIGNING_KEY"))
        self.public_key = public_text(self._key)
        """The public half, as base64 text: what a transition trusts."""

    def sign(self, transition_id: str, command: Command, run: str, at: datetime | None = None) -> Command:
        """A copy of ``command`` carrying the time it was signed (``at``, default now) and its
        signature for ``transition_id`` in the run family ``run`` (its first run's id)."""
        at = at or datetime.now(UTC)
        unsigned = command.model_copy(update={"signature": None, "signed_at": at})
        signature = self.sign_bytes(canonical(transition_id, unsigned, run))
        return unsigned.model_copy(update={"signature": signature})

    def sign_bytes(self, message: bytes) -> str:
        """The base64 signature of ``message``."""
        return base64.b64encode(self._key.sign(message)).decode()


def verify(trusted: list[str], transition_id: str, command: Command, run: str | None = None) -> bool:
    """Whether ``command`` carries a valid signature for ``transition_id`` in the run family
    ``run`` by one of ``trusted``."""
    if not command.signature:
        return False
    return verify_bytes(trusted, command.signature, canonical(transition_id, command, run))


def verify_bytes(trusted: list[str], signature_text: str, message: bytes) -> bool:
    """Whether ``signature_text`` (base64) is a signature of ``message`` by one of ``trusted``."""
    try:
        signature = base64.b64decode(signature_text, validate=True)
    except (binascii.Error, ValueError):
        return False
    for text in trusted:
        try:
            public_key(text).verify(signature, message)
            return True
        except (InvalidSignature, ValueError):
            continue
    return False
