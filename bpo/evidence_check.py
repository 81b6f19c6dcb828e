"""Whether pinned evidence is still what was approved: each approval that pinned its evidence,
fetched again (or read back from the evidence store, for an uploaded file) and hashed.

Used by ``bpo evidence --verify``, the report and the web app's gate page.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import httpx

from activities.evidence_store import EvidenceStore, key_for, open_store
from activities.fetching import Refused, Unreachable, fetch, sha256_of
from bpo.settings import Settings
from models.evidence import UPLOAD

Verdict = Literal["unchanged", "changed", "unreachable", "not checked"]
MARKS = {
    "unchanged": "pinned, unchanged",
    "changed": "pinned, CHANGED since it was approved",
    "unreachable": "pinned; cannot be fetched now",
    "not checked": "pinned",
}


@dataclass
class Pinned:
    """One approval's pinned evidence, and what a check found."""

    at: datetime
    gate: str | None
    by: str | None
    evidence: str
    sha256: str
    size: int
    verdict: Verdict = "not checked"
    now_sha256: str | None = None
    now_size: int | None = None
    problem: str | None = None

    @property
    def mark(self) -> str:
        """How the evidence reads next to its sign-off: ``pinned, unchanged`` and so on."""
        return MARKS[self.verdict] + (f" ({self.problem})" if self.problem else "")


def pinned(rows: list[Any], gate: str | None = None) -> list[Pinned]:
    """The approvals in an audit trail whose evidence was pinned, on ``gate`` if given."""
    return [
        Pinned(
            at=r.at,
            gate=r.gate,
            by=r.actor,
            evidence=str(r.detail.get("evidence")),
            sha256=r.detail["pinned"]["sha256"],
            size=int(r.detail["pinned"]["size"]),
        )
        for r in rows
        if r.kind == "approved" and isinstance(r.detail.get("pinned"), dict) and (gate is None or r.gate == gate)
    ]


async def _check(item: Pinned, http: httpx.AsyncClient, store: EvidenceStore, limit: int, timeout: float) -> None:
    upload = UPLOAD.match(item.evidence)
    try:
        if upload:
            body = await store.get(key_for(upload.group(1)))
            if body is None:
                raise Unreachable("it is no longer in the evidence store")
        else:
            body = (await fetch(http, item.evidence, limit, timeout=timeout)).body
    except (Unreachable, Refused) as exc:
        item.verdict, item.problem = "unreachable", str(exc)
        return
    item.now_sha256, item.now_size = sha256_of(body), len(body)
    item.verdict = "unchanged" if item.now_sha256 == item.sha256 else "changed"


async def verify(items: list[Pinned], settings: Settings, timeout: float = 15.0) -> list[Pinned]:
    """Fetch every item again, all at once, and say whether each still matches its pin."""
    if not items:
        return items
    store = open_store(settings.evidence_location, settings.evidence_s3_endpoint)
    limit = settings.evidence_max_mb * 1024 * 1024
    async with httpx.AsyncClient() as http:
        await asyncio.gather(*(_check(item, http, store, limit, timeout) for item in items))
    return items
