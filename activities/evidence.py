"""The evidence activities: fetch what an approval names (a URL, or a file uploaded in the web
app), hash it and keep it in the evidence store, so the sign-off can record what it relied on; and
once a day fetch it again and keep the verdict (`recheck_evidence`) for the pages to show."""

from __future__ import annotations

import asyncio

import httpx
import structlog
from sqlalchemy import Engine
from temporalio import activity

from infra.evidence_checks import Found, record_checks
from infra.evidence_store import EvidenceStore, key_for
from infra.fetching import Refused, Unreachable, fetch, sha256_of
from models.evidence import (
    UPLOAD,
    EvidencePin,
    PinRequest,
    PinResult,
    RecheckItem,
    RecheckRequest,
    RecheckResult,
    Verdict,
    allowed_type,
)

log = structlog.get_logger(__name__)
RECHECK_READ = 15.0
"""Seconds a read may wait; the whole fetch has the total deadline of `infra.fetching`."""


class EvidenceActivities:
    """Pins evidence for the worker, with its HTTP client (guarded: the URL is the plan's), its
    store, its size limit and the audit database where the pin's check is kept."""

    def __init__(
        self, http: httpx.AsyncClient, store: EvidenceStore, limit: int, engine: Engine | None = None
    ) -> None:
        self.http = http
        self.store = store
        self.limit = limit
        self.engine = engine

    async def _checked(self, request: PinRequest, pin: EvidencePin) -> PinResult:
        """The pin, its first check (it matches: it was just read) kept for the pages."""
        if self.engine is not None:
            found = Found(request.transition_id, request.evidence, pin.sha256, "unchanged", pin.at, pin.sha256, pin.size)
            await asyncio.to_thread(record_checks, self.engine, [found])
        return PinResult(pin=pin)

    @activity.defn(name="pin_evidence")
    async def pin(self, request: PinRequest) -> PinResult:
        """Fetch, check, hash and keep ``request.evidence``."""
        at = activity.info().started_time
        upload = UPLOAD.match(request.evidence)
        if upload:  # the web app kept it already; check it is still what its name says
            body = await self.store.get(key_for(upload.group(1)))
            if body is None or sha256_of(body) != upload.group(1):
                return PinResult(problem="the uploaded file is not in the evidence store")
            pin = EvidencePin(sha256=upload.group(1), size=len(body), stored=key_for(upload.group(1)), at=at)
            return await self._checked(request, pin)
        try:
            doc = await fetch(self.http, request.evidence, self.limit)
        except Refused as exc:
            return PinResult(problem=f"the evidence is refused: {exc}", refused=True)
        except Unreachable as exc:
            return PinResult(problem=f"the evidence could not be fetched: {exc}")
        if not allowed_type(doc.content_type):
            # The type the server named is not told: an approver would learn it from an inside host.
            return PinResult(problem="the evidence is refused: files of its type are not accepted", refused=True)
        digest = sha256_of(doc.body)
        stored = await self.store.put(digest, doc.body, doc.content_type)
        log.info("evidence_pinned", transition_id=request.transition_id, gate=request.gate, sha256=digest)
        pin = EvidencePin(sha256=digest, size=len(doc.body), content_type=doc.content_type, stored=stored, at=at)
        return await self._checked(request, pin)

    async def _verdict(self, item: RecheckItem) -> tuple[Verdict, bytes | None, str | None]:
        """Whether ``item`` is still what was approved, and what was read (never told outside)."""
        upload = UPLOAD.match(item.evidence)
        try:
            if upload:
                body = await self.store.get(key_for(upload.group(1)))
                if body is None:
                    raise Unreachable("it is no longer in the evidence store")
            else:  # the guarded client, within the fetch's total deadline
                body = (await fetch(self.http, item.evidence, self.limit, timeout=RECHECK_READ)).body
        except (Unreachable, Refused) as exc:
            return "unreachable", None, str(exc)
        return ("unchanged" if sha256_of(body) == item.sha256 else "changed"), body, None

    @activity.defn(name="recheck_evidence")
    async def recheck(self, request: RecheckRequest) -> RecheckResult:
        """Fetch each pinned evidence again, all at once, keep each verdict as its last check, and
        answer the verdicts alone: nothing read from a source goes into the workflow's history."""
        at = activity.info().started_time
        verdicts = await asyncio.gather(*(self._verdict(item) for item in request.items))
        found = [
            Found(
                request.transition_id,
                item.evidence,
                item.sha256,
                verdict,
                at,
                sha256_of(body) if body is not None else None,
                len(body) if body is not None else None,
                problem,
            )
            for item, (verdict, body, problem) in zip(request.items, verdicts, strict=True)
        ]
        if self.engine is not None:
            await asyncio.to_thread(record_checks, self.engine, found)
        counts = {v: sum(1 for f in found if f.verdict == v) for v in ("unchanged", "changed", "unreachable")}
        log.info("evidence_rechecked", transition_id=request.transition_id, **counts)
        return RecheckResult(verdicts=[f.verdict for f in found])
