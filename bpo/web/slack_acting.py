"""Deciding from Slack: a press or a modal submitted by a Slack user becomes a decision of the
person they are linked to, built, signed and refused exactly as from the web app
(`bpo.web.acting`), audited ``via: slack``. An unlinked user is offered a one-time link; a
refusal is told to the presser alone; a decided message is redrawn with who decided."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any
from urllib.parse import quote

from fastapi import Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from bpo.api import BpoError, get_plan
from bpo.web.acting import NotOnRoster, build, decide, person_in
from bpo.web.deps import Web, log
from bpo.web.sessions import Visitor, fingerprint
from bpo.web.slack_links import linked_person, offer_link
from infra import slack
from infra.slack_blocks import cut, decided_blocks, gate_url, reject_modal
from models.names import gate_name
from models.slack import APPROVE, REASON, REJECT, BlockActions, ButtonValue, RejectMetadata, ViewSubmission
from models.status import GateStatus, TransitionStatus

ANSWER_WITHIN = 2.5
"""Seconds a modal's submission waits for its decision: Slack wants an answer within three, and
a refusal shown in the modal itself is the clearest place for it."""
OUTCOMES = {"approve": "Approved", "reject": "Rejected"}


class Untold(Exception):
    """Nothing was decided; the message is what to tell the presser alone."""


async def handle_press(w: Web, press: BlockActions) -> None:
    """Decide a press of Approve, open the reject modal for Reject, or tell the presser why not;
    never raises (it runs after Slack was answered)."""
    action = press.actions[0]
    if action.action_id not in (APPROVE, REJECT):
        return  # Open is a link; Slack tells us of the press, nothing to do
    bound = log.bind(slack_team=press.team_id, slack_user=press.user.id, action=action.action_id)
    said: str | None = None
    try:
        value = ButtonValue.model_validate_json(action.value or "")
        bound = bound.bind(transition_id=value.t, gate=value.g)
        where = press.container
        channel, ts = (where.channel_id, where.message_ts) if where else (None, None)
        if action.action_id == REJECT:
            said = await _ask_reason(w, press, value, channel, ts)
        else:
            # A press of the same button (the same action time) counts once, however often it arrives.
            key = f"{press.team_id}/{press.user.id}/{APPROVE}/{value.t}/{value.g}/{action.action_ts}"
            name, status = await act(w, press.team_id, press.user.id, value.t, value.g, "approve", {}, key)
            await redraw(w, value.t, value.g, status, f"{OUTCOMES['approve']} by {name}", channel, ts)
    except Untold as why:
        said = str(why)
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


async def _ask_reason(
    w: Web, press: BlockActions, value: ButtonValue, channel: str | None, ts: str | None
) -> str | None:
    """Open the reject modal for a linked presser; what to tell them instead, if it cannot open."""
    await _linked(w, press.team_id, press.user.id)
    token = w.settings.slack_bot_token
    page = gate_url(w.settings.web_url, f"/t/{quote(value.t)}/gates/{quote(value.g)}") or "the gate's page"
    fallback = f"A rejection needs its reason: reject it on the web app, at {page}. Nothing was decided here."
    if not token or not press.trigger_id:
        return fallback
    meta = RejectMetadata(t=value.t, g=value.g, c=channel, m=ts)
    try:
        view = reject_modal(meta, await _gate_name(w, value.t, value.g))
        await slack.SlackApi(w.http, token, w.settings.slack_api_url).open_view(press.trigger_id, view)
    except slack.SlackFailed as failed:
        log.warning("slack_modal_failed", transition_id=value.t, reason=str(failed))
        return fallback
    return None


async def submitted(w: Web, sent: ViewSubmission) -> Response:
    """The reject modal submitted: decided while Slack waits, a refusal shown on the modal's
    reason; a decision slower than `ANSWER_WITHIN` closes the modal and is told after."""
    try:
        meta = RejectMetadata.model_validate_json(sent.view.private_metadata)
    except ValidationError:
        return Response("not a modal of ours", status_code=400, media_type="text/plain")
    reason = sent.view.state.values.get(REASON, {}).get(REASON)
    fields = {"reason": (reason.value or "").strip() if reason else ""}
    # The same submission (its view id) counts once, however often it arrives.
    key = f"{sent.team_id}/{sent.user.id}/{REJECT}/{meta.t}/{meta.g}/{sent.view.id}"
    job = asyncio.ensure_future(act(w, sent.team_id, sent.user.id, meta.t, meta.g, "reject", fields, key))
    try:
        name, status = await asyncio.wait_for(asyncio.shield(job), ANSWER_WITHIN)
    except Untold as why:
        return JSONResponse({"response_action": "errors", "errors": {REASON: cut(str(why), 1000)}})
    except TimeoutError:
        w.later(_told_after(w, job, sent, meta))
        return Response(status_code=200)
    w.later(redraw(w, meta.t, meta.g, status, f"{OUTCOMES['reject']} by {name}", meta.c, meta.m))
    return Response(status_code=200)


async def _told_after(w: Web, job: asyncio.Future[Any], sent: ViewSubmission, meta: RejectMetadata) -> None:
    """A slow rejection's outcome: the message redrawn, or the refusal told to the person alone."""
    try:
        name, status = await job
    except Untold as why:
        if w.settings.slack_bot_token and meta.c:
            api = slack.SlackApi(w.http, w.settings.slack_bot_token, w.settings.slack_api_url)
            try:
                await api.whisper(meta.c, sent.user.id, str(why))
            except slack.SlackFailed as failed:
                log.warning("slack_answer_failed", transition_id=meta.t, reason=str(failed))
        return
    except Exception:
        log.exception("slack_press_failed", transition_id=meta.t, gate=meta.g)
        return
    await redraw(w, meta.t, meta.g, status, f"{OUTCOMES['reject']} by {name}", meta.c, meta.m)


async def _linked(w: Web, team: str, user: str) -> str:
    """The person the Slack user is linked to; `Untold` with a one-time link when none."""
    person_id = await asyncio.to_thread(linked_person, w.engine, team, user)
    if person_id is None:
        token = await asyncio.to_thread(offer_link, w.engine, team, user)
        url = f"{(w.settings.web_url or '').rstrip('/')}/integrations/slack/link?token={token}"
        raise Untold(
            "Your Slack account is not linked to bpo-transition yet, so nothing was decided. "
            f"Open <{url}|this one-time link> signed in to the web app with your Slack account's address "
            "to link it (it works for 30 minutes), "
            "then press the button again."
        )
    return person_id


async def act(
    w: Web, team: str, user: str, tid: str, gate: str, kind: str, fields: dict[str, Any], key: str
) -> tuple[str, TransitionStatus]:
    """Send the decision ``kind`` on ``gate`` as the person ``team``/``user`` is linked to, with a
    request id made from ``key`` (a repeat counts once); their name and the status after, or
    `Untold` saying why nothing was decided."""
    person_id = await _linked(w, team, user)
    me = Visitor(email=person_id, via="slack", operator=f"slack {team}/{user}")
    request_id = "slack-" + hashlib.sha256(key.encode()).hexdigest()[:40]
    try:
        person, _ = await person_in(w, me, tid)
        status = await decide(w, tid, build(kind, person, me, {"gate": gate, "request_id": request_id, **fields}))
    except NotOnRoster:
        raise Untold(f"You ({person_id}) are not on the roster of transition '{tid}'; nothing was decided.") from None
    except BpoError as why:
        raise Untold(f"Not decided: {why}") from None
    log.info("slack_decided", transition_id=tid, gate=gate, person=fingerprint(person.id), decision=kind)
    return person.name, status


async def _gate_name(w: Web, tid: str, gate: str) -> str:
    try:
        return gate_name(await get_plan(w.client, tid), gate)
    except BpoError:
        return gate


async def redraw(
    w: Web, tid: str, key: str, status: TransitionStatus, outcome: str, channel: str | None, ts: str | None
) -> None:
    """Update the decided message to show who decided and how the gate stands now."""
    token = w.settings.slack_bot_token
    if not token or not channel or not ts:
        return
    gate = next((g for g in status.gates if g.key == key), None)
    if gate is None:  # the phase moved on (or went back): the gate is no longer open
        gate = GateStatus(
            key=key, kind="approval", status="rejected" if outcome.startswith("Rejected") else "passed", progress="—"
        )
    text, blocks = decided_blocks(tid, gate, await _gate_name(w, tid, key), outcome, w.settings.web_url)
    try:
        await slack.SlackApi(w.http, token, w.settings.slack_api_url).update(channel, ts, text, blocks)
    except slack.SlackFailed as failed:
        log.warning("slack_update_failed", transition_id=tid, reason=str(failed))
