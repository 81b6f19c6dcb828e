"""Evidence uploaded with an approval: checked at the door (size, type), kept in the evidence store
by its SHA-256, and named ``upload:SHA256/NAME`` in the approval, which the worker then pins."""

from __future__ import annotations

import mimetypes
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import HTTPException, Request
from starlette.datastructures import FormData, UploadFile

from bpo.errors import BpoError
from infra.evidence_store import open_store
from infra.fetching import sha256_of
from infra.settings import Settings
from models.evidence import allowed_type

ACCEPT = ".pdf,.txt,.csv,.md,.json,.png,.jpg,.jpeg,.gif,.webp,.docx,.xlsx,.pptx,.odt,.ods,.doc,.xls,.eml"
"""What the file picker offers; the server checks the type again."""
FORM_ROOM = 64 * 1024
"""What a form's other fields and its multipart framing may add to its file."""
TYPES = mimetypes.MimeTypes(filenames=())  # Python's own table: the same on every machine
for _ext, _type in {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".md": "text/markdown",
    ".webp": "image/webp",
}.items():
    TYPES.add_type(_type, _ext)


@asynccontextmanager
async def bounded_form(request: Request, max_mb: int) -> AsyncIterator[FormData]:
    """The request's form, read only when its declared size is within ``max_mb`` (and a little
    for the other fields): a body too big, or of no declared size, is refused before any of it is
    spooled to disk."""
    declared = request.headers.get("content-length", "")
    if not declared.isdigit():
        raise HTTPException(411, "A form with a file must say its size (Content-Length).")
    if int(declared) > max_mb * 1024 * 1024 + FORM_ROOM:
        raise HTTPException(413, f"A file here is at most {max_mb} MB; this request is larger.")
    async with request.form(max_files=1, max_fields=20) as form:
        yield form


async def keep_upload(settings: Settings, upload: UploadFile) -> str:
    """Keep ``upload`` in the evidence store; the evidence reference an approval carries. A file
    too big, empty or of a type evidence may not have is refused with `BpoError`."""
    limit = settings.evidence_max_mb * 1024 * 1024
    body = await upload.read(limit + 1)
    name = re.sub(r"[^\w.\- ]", "_", (upload.filename or "evidence").rsplit("/", 1)[-1])[:120] or "evidence"
    if len(body) > limit:
        raise BpoError(
            f"{name} is larger than {settings.evidence_max_mb} MB; evidence is refused above that", kind="BadInput"
        )
    if not body:
        raise BpoError(f"{name} is empty", kind="BadInput")
    kind = TYPES.guess_type(name)[0]
    if not allowed_type(kind):
        raise BpoError(
            f"{name} is refused: files of type {kind or 'unknown'} are not accepted as evidence "
            "(documents, sheets, images and mail are)",
            kind="BadInput",
        )
    digest = sha256_of(body)
    await open_store(settings.evidence_location, settings.evidence_s3_endpoint).put(digest, body, kind or "")
    return f"upload:{digest}/{name}"
