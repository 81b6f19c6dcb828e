"""Signed decisions: an Ed25519 signature over a command's canonical form.

The canonical form names the transition, the command's update and every field but the signature,
as JSON with sorted keys and no spaces; a signature copied onto another transition, another gate
or another request therefore does not verify. The workflow checks it in its validators, so the
check must be deterministic: it is, and it costs well under a millisecond.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from models.commands import Command

KEY_BYTES = 32


def canonical(transition_id: str, command: Command) -> bytes:
    """The bytes a signature covers: transition, update name and every field but the signature."""
    fields = command.model_dump(mode="json", exclude={"signature"})
    return canonical_json({"transition": transition_id, "command": command.update, "fields": fields})


def canonical_json(value: Any) -> bytes:
    """JSON with sorted keys and no spaces: one encoding per value, for hashes and signatures."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _key_bytes(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not base64") from None
    if len(raw) != KEY_BYTES:
        raise ValueError(f"{what} has {len(raw)} bytes; an Ed25519 key has {KEY_BYTES}")
    return raw


def public_key(text: str) -> Ed25519PublicKey:
    """A public key from its base64 text, or ValueError saying what is wrong with it."""
    return Ed25519PublicKey.from_public_bytes(_key_bytes(text, "a trusted key"))


def new_key_pair() -> tuple[str, str]:
    """A new private key and its public half, both as base64 text."""
    private = Ed25519PrivateKey.generate()
    raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return base64.b64encode(raw).decode(), _public_text(private)


def _public_text(private: Ed25519PrivateKey) -> str:
    return base64.b64encode(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


class Signer:
    """Signs commands with one private key (``BPO_SIGNING_KEY``)."""

    def __init__(self, private_key: str) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(_key_bytes(private_key, "BPO_SIGNING_KEY"))
        self.public_key = _public_text(self._key)
        """The public half, as base64 text: what a transition trusts."""

    def sign(self, transition_id: str, command: Command) -> Command:
        """A copy of ``command`` carrying its signature for ``transition_id``."""
        unsigned = command.model_copy(update={"signature": None})
        signature = self._key.sign(canonical(transition_id, unsigned))
        return command.model_copy(update={"signature": base64.b64encode(signature).decode()})


def verify(trusted: list[str], transition_id: str, command: Command) -> bool:
    """Whether ``command`` carries a valid signature for ``transition_id`` by one of ``trusted``."""
    if not command.signature:
        return False
    try:
        signature = base64.b64decode(command.signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    message = canonical(transition_id, command)
    for text in trusted:
        try:
            public_key(text).verify(signature, message)
            return True
        except (InvalidSignature, ValueError):
            continue
    return False
