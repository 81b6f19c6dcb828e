"""Evidence pinned by its hash: what an approval relied on, fetched when it was given and kept.

An approval's ``evidence`` that is a URL, or a file uploaded in the web app (``upload:SHA256/NAME``),
is fetched by an activity before the sign-off is counted; the sign-off records the SHA-256, the
size and the type, and the evidence store keeps the file itself. ``bpo evidence ID GATE --verify``
fetches it again and says whether it still is what was approved.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

UPLOAD = re.compile(r"^upload:([0-9a-f]{64})/([^/\x00-\x1f]{1,200})$")
"""A file uploaded in the web app: its SHA-256 and its name, kept in the evidence store."""

ALLOWED_TYPES = (
    "application/pdf",
    "text/plain",
    "text/csv",
    "text/markdown",
    "text/html",
    "application/json",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/msword",
    "application/vnd.ms-excel",
    "message/rfc822",
)
"""What evidence may be: documents, sheets, images, mail. Programs and scripts are refused."""


def pinnable(evidence: str | None) -> bool:
    """Whether ``evidence`` is something to fetch and pin: a web address or an uploaded file."""
    return evidence is not None and (evidence.startswith(("https://", "http://")) or bool(UPLOAD.match(evidence)))


def allowed_type(content_type: str | None) -> bool:
    """Whether a ``Content-Type`` (parameters ignored) is one evidence may have."""
    return (content_type or "").split(";")[0].strip().lower() in ALLOWED_TYPES


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")


class EvidencePin(_Message):
    """What the evidence was when the approval was given."""

    sha256: str
    size: int
    content_type: str | None = None
    stored: str | None = None
    """Its key in the evidence store."""
    at: datetime


class PinRequest(_Message):
    """Fetch ``evidence`` for a sign-off on ``gate`` and keep it."""

    transition_id: str
    gate: str
    evidence: str


class PinResult(_Message):
    """The pin, or why there is none: ``refused`` for evidence never accepted (too big, of a
    forbidden type), else it could not be fetched now."""

    pin: EvidencePin | None = None
    problem: str | None = None
    refused: bool = False


Verdict = Literal["unchanged", "changed", "unreachable"]
"""What a check of pinned evidence found: still what was approved, something else, or nothing."""


class Watched(_Message):
    """One approval's pinned evidence, re-checked daily: what it was approved as, its last
    verdict, and whether its change was told (once)."""

    gate: str
    phase: str
    """The phase whose gate it was approved on."""
    by: str
    """Who approved with it."""
    evidence: str
    sha256: str
    verdict: Verdict = "unchanged"
    told: bool = False
    """Whether it was found changed, audited and told: it is told once."""


class EvidenceWatch(_Message):
    """The transition's pinned evidence under daily check, and when the next check is due."""

    items: list[Watched] = []
    """The newest ``MAX_WATCHED`` (`workflows.rules.rechecks`), oldest first."""
    next_at: datetime | None = None


class RecheckItem(_Message):
    """One pinned evidence to fetch again and compare with the hash it was approved with."""

    evidence: str
    sha256: str


class RecheckRequest(_Message):
    """Fetch each item again, hash it and keep the verdict for the pages."""

    transition_id: str
    items: list[RecheckItem]


class RecheckResult(_Message):
    """One verdict per item asked, in order; nothing read from a source comes back."""

    verdicts: list[Verdict] = []
