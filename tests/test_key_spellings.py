"""A public key has four base64 spellings (the last character's two spare bits are ignored by
the decoder). Only the spelling base64 writes is taken, and a key is named by its bytes, so a
key cannot be kept trusted under another spelling after its removal (issue 25)."""

from __future__ import annotations

import base64

import pytest
from pydantic import ValidationError

from models.commands import TrustKeys
from models.keys import fingerprint, same_key
from models.signing import new_key_pair

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def variant(key: str) -> str:
    """The same key's bytes in another spelling: one spare bit of the last character flipped."""
    body = key.rstrip("=")
    return body[:-1] + B64[B64.index(body[-1]) ^ 1] + key[len(body) :]


def test_a_key_in_another_base64_spelling_is_refused_with_the_spelling_to_write():
    _, public = new_key_pair()
    other = variant(public)
    assert other != public and base64.b64decode(other) == base64.b64decode(public)
    with pytest.raises(ValidationError) as refused:
        TrustKeys(add=[other], remove=[public])
    assert "not written as base64 writes it" in str(refused.value) and public in str(refused.value)
    TrustKeys(add=[new_key_pair()[1]], remove=[public])  # the canonical spelling is taken


def test_every_spelling_of_a_key_has_the_same_fingerprint():
    _, public = new_key_pair()
    assert fingerprint(variant(public)) == fingerprint(public)
    assert same_key(variant(public), public) and not same_key(public, new_key_pair()[1])


def test_a_start_or_a_trusted_keys_setting_in_another_spelling_is_refused(monkeypatch: pytest.MonkeyPatch):
    from infra.settings import Settings
    from models.messages import StartTransition

    _, public = new_key_pair()
    monkeypatch.setenv("BPO_TRUSTED_KEYS", variant(public))
    with pytest.raises(ValidationError, match="not written as base64 writes it"):
        Settings()
    with pytest.raises(ValidationError, match="not written as base64 writes it"):
        StartTransition.model_validate({"transition_id": "t", "plan": {}, "trusted_keys": [variant(public)]})
