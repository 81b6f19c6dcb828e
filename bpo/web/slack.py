"""Slack's side of the web app: button presses at ``POST /integrations/slack/actions`` (taken
only with Slack's signature, made within five minutes), the one-time link that binds a Slack
user to the person signed in (``/integrations/slack/link``) once Slack says that user's address
is theirs, and the person's links on ``/me/slack``, where they are undone.

A press is a decision like any other (`bpo.web.slack_acting`). Slack wants an answer within three
seconds, so a press is answered at once and decided after; the reject modal's submission is
decided while Slack waits, so a refusal shows in the modal."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from bpo.web.deps import current, log, message, page, web
from bpo.web.pages import Csrf, checked, signed_in
from bpo.web.slack_acting import handle_press, submitted
from bpo.web.slack_links import LinkRefused, ask_slack, bind, links_of, look, unlink
from infra import slack
from models.slack import REJECT_VIEW, BlockActions, SlackPayload, ViewSubmission

router = APIRouter()
MAX_BODY = 256 * 1024
"""The most of a press the app reads: Slack's carry the whole message, a few kilobytes."""


@router.post("/integrations/slack/actions", include_in_schema=False)
async def actions(request: Request) -> Response:
    """A press of one of our buttons in Slack: checked for Slack's signature before anything is
    read from it (401 otherwise, and nothing changes), answered at once, decided after."""
    w = web(request)
    body = await _bounded_body(request)
    headers = request.headers
    if not slack.signed_by_slack(
        w.settings.slack_signing_secret,
        headers.get("x-slack-request-timestamp"),
        headers.get("x-slack-signature"),
        body,
        slack.now(),
    ):
        log.warning("slack_press_refused", reason="no valid Slack signature within five minutes")
        return Response("not signed by Slack", status_code=401, media_type="text/plain")
    try:
        raw = json.loads(parse_qs(body.decode()).get("payload", [""])[0])
        kind = SlackPayload.model_validate(raw).type
        if kind == "view_submission":
            sent = ViewSubmission.model_validate(raw)
            if sent.view.callback_id == REJECT_VIEW:
                return await submitted(w, sent)
        if kind != "block_actions":
            return Response(status_code=200)  # other interactions are not ours to take
        press = BlockActions.model_validate(raw)
    except (ValueError, ValidationError):
        return Response("not a Slack interaction we understand", status_code=400, media_type="text/plain")
    w.later(handle_press(w, press))
    return Response(status_code=200)


async def _bounded_body(request: Request) -> bytes:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        raise HTTPException(413, "too large for a Slack interaction")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise HTTPException(413, "too large for a Slack interaction")
    return body


@router.get("/integrations/slack/link", response_class=HTMLResponse)
async def link_page(request: Request, token: Annotated[str, Query(max_length=100)] = "") -> Response:
    """The one-time link offered in Slack: for the person signed in, a button binding the Slack
    user to them; anyone else signs in first and comes back here."""
    me = current(request)
    if me is None:
        return RedirectResponse(f"/login?next={quote('/integrations/slack/link?token=' + token, safe='')}", 303)
    try:
        row = await asyncio.to_thread(look, web(request).engine, token)
    except LinkRefused as why:
        return message(request, why.title, str(why), why.status)
    return page(request, "slack_link.html", me=me, token=token, team=row.team, user=row.user)


@router.post("/integrations/slack/link", response_class=HTMLResponse)
async def link_bind(request: Request, csrf: Csrf, token: Annotated[str, Form(max_length=100)]) -> Response:
    """Bind the link's Slack user to the person signed in, only if Slack says that user's address
    is theirs (a link sent on to someone else binds nothing); their presses then decide as them."""
    me, w = checked(request, csrf), web(request)
    bot = w.settings.slack_bot_token
    api = slack.SlackApi(w.http, bot, w.settings.slack_api_url) if bot else None
    try:
        row = await asyncio.to_thread(look, w.engine, token)
        await ask_slack(api, row, me.email)
        await asyncio.to_thread(bind, w.engine, token, me.email, me.via)
    except LinkRefused as why:
        return message(request, why.title, str(why), why.status)
    return RedirectResponse("/me/slack?linked=1", status_code=303)


@router.get("/me/slack", response_class=HTMLResponse)
async def my_links(request: Request, linked: str | None = None) -> Response:
    """The Slack users linked to me, each with a button that undoes the link."""
    me = signed_in(request)
    links = await asyncio.to_thread(links_of, web(request).engine, me.email)
    return page(request, "slack_links.html", me=me, links=links, linked=bool(linked))


@router.post("/me/slack/unlink")
async def my_unlink(request: Request, csrf: Csrf, link: Annotated[str, Form(max_length=36)]) -> Response:
    """Undo one of my links at once: that Slack user's presses decide nothing any more."""
    me = checked(request, csrf)
    await asyncio.to_thread(unlink, web(request).engine, me.email, link)
    return RedirectResponse("/me/slack", status_code=303)
