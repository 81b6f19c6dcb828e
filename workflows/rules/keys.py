"""Trusted keys rotate: a `TrustKeys` command, signed by a key the transition trusts already,
adds or removes public keys; a transition never ends up trusting none (trust: "Signed decisions").
"""

from __future__ import annotations

from datetime import datetime

from models.commands import TrustKeys
from models.signing import fingerprint
from workflows.rules.clock import View
from workflows.rules.lookups import person
from workflows.rules.outbox import Recorder
from workflows.rules.refusals import RefusalKind, Refused


def rotated(v: View, command: TrustKeys) -> list[str]:
    """The keys trusted once ``command`` is applied: those kept, then those added."""
    kept = [k for k in v.state.trusted_keys if k not in command.remove]
    return [*kept, *(k for k in dict.fromkeys(command.add) if k not in kept)]


def check(v: View, command: TrustKeys) -> None:
    """Refuse a rotation of a transition that trusts no key, of a key it does not trust, or one
    that would leave it trusting none. The signature by a trusted key is checked before."""
    if not v.state.trusted_keys:
        raise Refused(
            "this transition trusts no key, so anyone could rotate them; keys are given when a transition starts "
            "(BPO_SIGNING_KEY)",
            RefusalKind.NO_KEY,
        )
    if command.by:
        person(v, command.by)
    unknown = [fingerprint(k) for k in command.remove if k not in v.state.trusted_keys]
    if unknown:
        raise Refused(
            f"the transition does not trust the key {', '.join(unknown)}: nothing to remove", RefusalKind.BAD_INPUT
        )
    if not rotated(v, command):
        raise Refused(
            "a transition may not end up trusting no key; --add one to take the removed one's place", RefusalKind.NO_KEY
        )


def rotate(m: Recorder, command: TrustKeys, now: datetime) -> None:
    """Trust the keys ``command`` leaves, audited with their fingerprints (and the keys themselves,
    which `bpo audit --verify` checks later rows against)."""
    keys = rotated(m, command)
    detail = {
        "added": [fingerprint(k) for k in command.add if k not in m.state.trusted_keys],
        "removed": [fingerprint(k) for k in command.remove],
        "trusted": [fingerprint(k) for k in keys],
        "trusted_keys": keys,
    }
    m.state.trusted_keys = keys
    m.audit("keys_rotated", now, actor=command.by, detail=detail, command=command)
