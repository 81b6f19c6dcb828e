"""Whether pinned evidence is still what was approved: each approval that pinned its evidence,
fetched again (or read back from the evidence store, for an uploaded file) and hashed, and the
verdict kept in the audit database (`infra.evidence_checks`).

``bpo evidence --verify`` checks (through the guard, like the worker); the report and the web
app's pages only read the last verdict (`last_verdicts`): nothing is fetched while a page renders.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast

import httpx
from sqlalchemy import Engine

from infra.evidence_checks import Found, last_checks, record_checks
from infra.evidence_store import EvidenceStore, key_for, open_store
from infra.fetching import Refused, Unreachable, fetch, sha256_of
from infra.guard import guarded_client
from infra.settings import Settings
from models.audit_events import Row, events_of
from models.audit_events.decisions import Approved
from models.evidence import UPLOAD
from models.tables import evidence_check_key

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
    transition_id: str = ""
    checked_at: datetime | None = None
    """When the verdict was found (the last check kept, for a page or the report)."""

    @property
    def mark(self) -> str:
        """How the evidence reads next to its sign-off: ``pinned, unchanged`` and so on."""
        return MARKS[self.verdict] + (f" ({self.problem})" if self.problem else "")

    @property
    def mark_when(self) -> str:
        """The mark with when it was found: ``pinned, unchanged; checked 2026-12-04 09:30 UTC``."""
        return self.mark + (f"; checked {self.checked_at:%Y-%m-%d %H:%M} UTC" if self.checked_at else "")


def pinned(rows: Iterable[Row], gate: str | None = None) -> list[Pinned]:
    """The approvals in an audit trail whose evidence was pinned, on ``gate`` if given."""
    return [
        Pinned(
            at=e.at,
            gate=e.gate,
            by=e.actor,
            evidence=str(e.evidence),
            sha256=e.pinned.sha256,
            size=e.pinned.size,
            transition_id=e.transition_id,
        )
        for e in events_of(rows)
        if isinstance(e, Approved) and e.pinned is not None and (gate is None or e.gate == gate)
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


async def verify(items: list[Pinned], settings: Settings, engine: Engine, timeout: float = 15.0) -> list[Pinned]:
    """Fetch every item again, all at once, through the guard (``BPO_FETCH_ALLOW``), say whether
    each still matches its pin, and keep each verdict in the audit database for the pages."""
    if not items:
        return items
    store = open_store(settings.evidence_location, settings.evidence_s3_endpoint)
    limit = settings.evidence_max_mb * 1024 * 1024
    async with guarded_client(settings.fetch_policy) as http:
        await asyncio.gather(*(_check(item, http, store, limit, timeout) for item in items))
    now = datetime.now(UTC)
    found = []
    for item in items:
        item.checked_at = now
        found.append(
            Found(
                item.transition_id,
                item.evidence,
                item.sha256,
                item.verdict,
                now,
                item.now_sha256,
                item.now_size,
                item.problem,
            )
        )
    await asyncio.to_thread(record_checks, engine, found)
    return items


def last_verdicts(items: list[Pinned], engine: Engine) -> list[Pinned]:
    """Each item with the verdict of its last check as kept in the audit database (``not
    checked`` when none was): what a page shows, with nothing fetched."""
    checks: dict[str, dict[str, Any]] = {}
    for transition_id in {i.transition_id for i in items}:
        checks[transition_id] = dict(last_checks(engine, transition_id))
    for item in items:
        row = checks[item.transition_id].get(str(evidence_check_key(item.transition_id, item.evidence, item.sha256)))
        if row is not None:
            item.verdict = cast(Verdict, row.verdict)
            item.now_sha256, item.now_size, item.problem = row.now_sha256, row.now_size, row.problem
            item.checked_at = row.checked_at
    return items
