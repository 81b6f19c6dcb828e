"""The person's own page, ``/me``: how they want their mail notices (one mail a notice, or a
daily digest at an hour of their zone; `models.digests`), what waits for their next digest, a
digest their mail server refused for good, and the ways to their API tokens and Slack links."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from bpo.web.deps import log, page, web
from bpo.web.pages import Csrf, checked, signed_in
from bpo.web.sessions import Visitor, fingerprint
from infra.digests import choice_of, choose, refused_since_chosen, waiting_for
from models.digests import DigestChoice
from models.errors import describe

router = APIRouter()


async def _shown(request: Request, me: Visitor, status_code: int = 200, **context: object) -> Response:
    engine = web(request).engine
    choice = context.pop("choice", None) or await asyncio.to_thread(choice_of, engine, me.email)
    waiting = await asyncio.to_thread(waiting_for, engine, me.email)
    refused = await asyncio.to_thread(refused_since_chosen, engine, me.email)
    return page(request, "me.html", status_code, me=me, choice=choice, waiting=waiting, refused=refused,
                hours=range(24), **context)  # fmt: skip


@router.get("/me", response_class=HTMLResponse)
async def me_page(request: Request, saved: str | None = None) -> Response:
    """My notices: one mail each, or a daily digest; and what waits for my next digest."""
    return await _shown(request, signed_in(request), saved=bool(saved))


@router.post("/me/digest", response_class=HTMLResponse)
async def me_digest(
    request: Request,
    csrf: Csrf,
    mode: Annotated[str, Form(max_length=16)] = "each",
    hour: Annotated[str, Form(max_length=8)] = "8",
    zone: Annotated[str, Form(max_length=100)] = "UTC",
) -> Response:
    """Keep my choice; a choice that does not hold is shown again with what is wrong, nothing kept."""
    me = checked(request, csrf)
    try:
        choice = DigestChoice.model_validate({"mode": mode, "hour": hour, "zone": zone})
    except ValidationError as wrong:
        return await _shown(request, me, 400, problem=describe(wrong))
    await asyncio.to_thread(choose, web(request).engine, me.email, choice, me.via)
    log.info("digest_choice_set", person=fingerprint(me.email), via=me.via, mode=choice.mode,
             hour=choice.hour, zone=choice.zone)  # fmt: skip
    return RedirectResponse("/me?saved=1", status_code=303)
