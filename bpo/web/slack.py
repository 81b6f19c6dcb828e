"""Slack's side of the web app: button presses at ``POST /integrations/slack/actions`` (taken
only with Slack's signature, made within five minutes), the one-time link that binds a Slack
user to the person signed in (``/integrations/slack/link``), and the person's links on
``/me/slack``, where they are undone.

A press is a decision like any other: by the person the Slack user is linked to, checked by the
same rules, refused in the same words (told to the presser alone, through the press's
``response_url``), signed by the app and audited ``via: slack``. Slack wants an answer within
three seconds, so the press is answered at once and decided after."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Annotated
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from bpo.api import BpoError, get_plan
from bpo.web.acting import NotOnRoster, build, decide, person_in
from bpo.web.deps import Web, current, log, message, page, web
from bpo.web.pages import Csrf, checked, signed_in
from bpo.web.sessions import Visitor
from bpo.web.slack_links import LinkRefused, bind, linked_person, links_of, look, offer_link, unlink
from infra import slack
from infra.slack_blocks import decided_blocks, gate_url
from models.names import gate_name
from models.slack import APPROVE, REJECT, BlockActions, ButtonValue, SlackPayload
from models.status import GateStatus, TransitionStatus

router = APIRouter()
MAX_BODY = 256 * 1024
"""The most of a press the app reads: Slack's carry the whole message, a few kilobytes."""
OUTCOMES = {"approve": "Approved"}


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
        if SlackPayload.model_validate(raw).type != "block_actions":
            return Response(status_code=200)  # other interactions are not ours to take
        press = BlockActions.model_validate(raw)
    except (ValueError, ValidationError):
        return Response("not a Slack interaction we understand", status_code=400, media_type="text/plain")
    w.later(_handle(w, press))
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


async def _handle(w: Web, press: BlockActions) -> None:
    """Decide a press, or tell the presser why not; never raises (it runs after the answer)."""
    action = press.actions[0]
    if action.action_id not in (APPROVE, REJECT):
        return  # Open is a link; Slack tells us of the press, nothing to do
    bound = log.bind(slack_team=press.team_id, slack_user=press.user.id, action=action.action_id)
    try:
        value = ButtonValue.model_validate_json(action.value or "")
        bound = bound.bind(transition_id=value.t, gate=value.g)
        said = await _decide(w, press, value, action.action_id)
    except ValidationError:
        said = "This button is not one of ours; nothing was decided."
    except Exception:  # a bug or the unexpected: logged, and the presser told that nothing happened
        bound.exception("slack_press_failed")
        said = "Something went wrong, and nothing was decided. Try again, or decide on the web app."
    if said and press.response_url:
        try:
            await slack.respond(w.http, press.response_url, said)
        except slack.SlackFailed as failed:
            bound.warning("slack_answer_failed", reason=str(failed))


async def _decide(w: Web, press: BlockActions, value: ButtonValue, action_id: str) -> str | None:
    """Decide as the linked person; what to tell the presser alone, or None when the message is
    updated to show the decision."""
    person_id = await asyncio.to_thread(linked_person, w.engine, press.team_id, press.user.id)
    if person_id is None:
        token = await asyncio.to_thread(offer_link, w.engine, press.team_id, press.user.id)
        url = f"{(w.settings.web_url or '').rstrip('/')}/integrations/slack/link?token={token}"
        return (
            "Your Slack account is not linked to bpo-transition yet, so nothing was decided. "
            f"Open <{url}|this one-time link> signed in to the web app to link it (it works for 30 minutes), "
            "then press the button again."
        )
    gate_page = gate_url(w.settings.web_url, f"/t/{quote(value.t)}/gates/{quote(value.g)}") or "the gate's page"
    if action_id == REJECT:
        return f"A rejection needs its reason: reject it on the web app, at {gate_page}. Nothing was decided here."
    me = Visitor(email=person_id, via="slack", operator=f"slack {press.team_id}/{press.user.id}")
    # A press of the same button (the same action time) counts once, however often it arrives.
    pressed = f"{press.team_id}/{press.user.id}/{action_id}/{value.t}/{value.g}/{press.actions[0].action_ts}"
    request_id = "slack-" + hashlib.sha256(pressed.encode()).hexdigest()[:40]
    try:
        person, _ = await person_in(w, me, value.t)
        command = build("approve", person, me, {"gate": value.g, "request_id": request_id})
        status = await decide(w, value.t, command)
    except NotOnRoster:
        return f"You ({person_id}) are not on the roster of transition '{value.t}'; nothing was decided."
    except BpoError as why:
        return f"Not decided: {why}"
    log.info("slack_decided", transition_id=value.t, gate=value.g, person=person.id, decision="approve")
    await _redraw(w, press, value, status, f"{OUTCOMES['approve']} by {person.name}")
    return None


async def _redraw(w: Web, press: BlockActions, value: ButtonValue, status: TransitionStatus, outcome: str) -> None:
    """Update the pressed message to show who decided and how the gate stands now."""
    where = press.container
    token = w.settings.slack_bot_token
    if not token or where is None or not where.channel_id or not where.message_ts:
        return
    gate = next((g for g in status.gates if g.key == value.g), None)
    if gate is None:  # the phase moved on: the gate passed with this decision
        gate = GateStatus(key=value.g, kind="approval", status="passed", progress="passed")
    try:
        name = gate_name(await get_plan(w.client, value.t), value.g)
    except BpoError:
        name = value.g
    text, blocks = decided_blocks(value.t, gate, name, outcome, w.settings.web_url)
    try:
        await slack.SlackApi(w.http, token, w.settings.slack_api_url).update(
            where.channel_id, where.message_ts, text, blocks
        )
    except slack.SlackFailed as failed:
        log.warning("slack_update_failed", transition_id=value.t, reason=str(failed))


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
        return message(request, "This link no longer works", str(why), 410)
    return page(request, "slack_link.html", me=me, token=token, team=row.team, user=row.user)


@router.post("/integrations/slack/link", response_class=HTMLResponse)
async def link_bind(request: Request, csrf: Csrf, token: Annotated[str, Form(max_length=100)]) -> Response:
    """Bind the link's Slack user to the person signed in; their presses then decide as them."""
    me = checked(request, csrf)
    try:
        await asyncio.to_thread(bind, web(request).engine, token, me.email, me.via)
    except LinkRefused as why:
        return message(request, "This link no longer works", str(why), 410)
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
