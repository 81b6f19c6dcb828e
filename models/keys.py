"""Ed25519 keys as text: reading a public key, making a pair, naming a key by its fingerprint.

Apart from `models.signing` (which signs and verifies commands) so that the command and message
models can check the keys they carry without importing the commands they are part of.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

KEY_BYTES = 32


def key_bytes(text: str, what: str, canonical: bool = False) -> bytes:
    """The raw bytes of a key given as base64 text, or ValueError naming ``what`` is wrong.

    With ``canonical``, only the one spelling base64 gives the bytes is taken: the spare bits of
    a key's last character are ignored by the decoder, so four texts name the same key, and a
    key compared as text could be added under one spelling and survive the removal of another.
    """
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not base64") from None
    if len(raw) != KEY_BYTES:
        raise ValueError(f"{what} has {len(raw)} bytes; an Ed25519 key has {KEY_BYTES}")
    if canonical and (spelt := base64.b64encode(raw).decode()) != text.strip():
        raise ValueError(f"{what} is not written as base64 writes it (its last character differs); write {spelt}")
    return raw


def public_key(text: str, canonical: bool = False) -> Ed25519PublicKey:
    """A public key from its base64 text, or ValueError saying what is wrong with it. The
    models' validators ask for ``canonical`` text; verifying a recorded command does not, so
    that what a history recorded replays as it ran."""
    return Ed25519PublicKey.from_public_bytes(key_bytes(text, "a trusted key", canonical))


def new_key_pair() -> tuple[str, str]:
    """A new private key and its public half, both as base64 text."""
    private = Ed25519PrivateKey.generate()
    raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return base64.b64encode(raw).decode(), public_text(private)


def public_text(private: Ed25519PrivateKey) -> str:
    """The public half of ``private``, as base64 text."""
    return base64.b64encode(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def fingerprint(key: str) -> str:
    """A short name for a public key: the first 16 hex digits of the SHA-256 of its canonical
    base64 text, so that every spelling of the same bytes has the same name (and a key's name is
    what it always was)."""
    try:
        text = base64.b64encode(base64.b64decode(key.strip(), validate=True)).decode()
    except (binascii.Error, ValueError):  # not a key: named by its text, as before
        text = key.strip()
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def same_key(a: str, b: str) -> bool:
    """Whether two texts name the same key: compared by their bytes, never their spelling."""
    return fingerprint(a) == fingerprint(b)
