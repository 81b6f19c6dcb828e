"""The evidence activity: fetch what an approval names (a URL, or a file uploaded in the web app),
hash it and keep it in the evidence store, so the sign-off can record what it relied on."""

from __future__ import annotations

import asyncio

import httpx
import structlog
from sqlalchemy import Engine
from temporalio import activity

from activities.evidence_checks import Found, record_checks
from activities.evidence_store import EvidenceStore, key_for
from activities.fetching import Refused, Unreachable, fetch, sha256_of
from models.evidence import UPLOAD, EvidencePin, PinRequest, PinResult, allowed_type

log = structlog.get_logger(__name__)


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
