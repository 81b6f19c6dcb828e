"""The transition page and the commands sent from it: RAID items, the roster, delegation, pause,
resume, cancel, escalation, notices sent again, a feed pulled now, amendments proposed (their
changes shown first) and decided. Each form is built from the command registry (`bpo.web.forms`),
offered only where the workflow's ``offered`` query allows it, sent signed by the app as the
person signed in, refused in the rules' own words on the same page."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import UploadFile as StarletteUpload
from starlette.exceptions import HTTPException

import bpo.web.ids  # noqa: F401 - registers the routes' {transition_id:tid}
from bpo import value_text
from bpo.api import BpoError, get_offered, get_options, get_plan
from bpo.web.acting import GATE_ACTIONS, build, decide
from bpo.web.deps import log, page, web
from bpo.web.forms import TITLES, forms_for, in_form_words, posted
from bpo.web.pages import MAX_PLAN_BYTES, _member, checked, signed_in
from bpo.web.program_view import program_lanes
from bpo.web.sessions import fingerprint
from bpo.web.transition_view import transition_view
from bpo.web.uploads import bounded_form
from infra.settings import deployment_connections
from models.plan_loader import PlanError, parse_plan
from workflows.rules.amendments import changes, is_amendment
from workflows.rules.offered import office_commands

router = APIRouter()
SENT_HERE = {c.update for c in office_commands()} | {"approve", "reject"}
"""What the transition page sends: the office's commands, and an amendment's approval or rejection."""


@router.get("/t/{transition_id:tid}", response_class=HTMLResponse)
async def transition(request: Request, transition_id: str, done: str | None = None) -> Response:
    """One transition: what needs me first, then the timeline against plan, gates, KPIs, RAID,
    escalations, the roster and amendments, each with the forms this person may use."""
    me = signed_in(request)
    person, people = await _member(request, me, transition_id)
    return await transition_page(request, transition_id, person, people, done=done)


async def transition_page(
    request: Request, tid: str, person: Any, people: Any, status_code: int = 200, done: str | None = None, **extra: Any
) -> Response:
    """The transition page for ``person``, with any refusal of a form they sent."""
    w = web(request)
    view = await transition_view(w, tid, people)
    program = await program_lanes(w, view["status"], view["plan"])
    offered, options = await asyncio.gather(_offered(request, tid, person.id), get_options(w.client, tid, person.id))
    forms = forms_for(offered, view["status"], view["plan"], people)
    by_place: dict[str, list[Any]] = {}
    for form in forms:
        by_place.setdefault(form.place, []).append(form)
    deciding = set(offered.get("approve", [])) | set(offered.get("reject", []))
    if refused := extra.get("refused"):  # said in its own form when the page has it, else at the top
        refused["in_form"] = any(f.update == refused["update"] for f in forms)
    context = {
        "t": view,
        "value": value_text.shown(view["status"]),
        "person": person,
        "roster_of": {p.id: p for p in people},
        "program": program,
        "forms": by_place,
        "offered": offered,
        "mine": [g for g in view["gates"] if options.get(g["status"].key)],
        "deciding": [a for a in view["status"].amendments if f"amendment_{a.number}" in deciding],
        "done": done if done in GATE_ACTIONS else None,
        "done_title": TITLES.get(done or "") if done in SENT_HERE or done == "amendment" else None,
    }
    return page(request, "transition.html", status_code, **context, **extra)


async def _offered(request: Request, tid: str, person_id: str) -> dict[str, list[str]]:
    """The workflow's answer; none while a worker without the query still runs the transition."""
    try:
        return await get_offered(web(request).client, tid, person_id)
    except BpoError as why:
        log.warning("offered_unanswered", transition_id=tid, error=str(why)[:200])
        return {}


@router.post("/t/{transition_id:tid}/status/amend", response_class=HTMLResponse)
async def amend(request: Request, transition_id: str) -> Response:
    """A new version of the plan, pasted or uploaded: its changes shown (``preview``), then
    proposed (``propose``) for an executive sponsor to decide as ``amendment_N``. The path sits
    under ``status``, a reserved page name, so no workstream's key is read in its place."""
    me = signed_in(request)
    async with bounded_form(request, 1) as form:
        me = checked(request, str(form.get("csrf", ""))[:100])
        person, _ = await _member(request, me, transition_id)
        upload = form.get("plan_file")
        raw = await upload.read(MAX_PLAN_BYTES + 1) if isinstance(upload, StarletteUpload) and upload.filename else b""
        name = upload.filename if raw and isinstance(upload, StarletteUpload) and upload.filename else "the new plan"
        text = raw.decode("utf-8", errors="replace") if raw else str(form.get("plan_text", ""))[: MAX_PLAN_BYTES + 1]
        reason = str(form.get("reason", "")).strip()[:2000]
        action = str(form.get("action", "preview"))
    shown: dict[str, Any] = {"tid": transition_id, "plan_text": text, "reason": reason}
    if len(text.encode()) > MAX_PLAN_BYTES:
        return page(request, "amend.html", 413, problems=[f"A plan is at most {MAX_PLAN_BYTES // 1024} KB."], **shown)
    w = web(request)
    running = await get_plan(w.client, transition_id)
    # A gate the running plan already has keeps its name, reserved or not (as `bpo amend`).
    kept = {g.key for p in running.phases for g in p.gates}
    try:
        new = parse_plan(text, source=name, env={}, connections=deployment_connections(w.settings), kept=kept).plan
    except PlanError as error:
        return page(request, "amend.html", 422, problems=[p.render(name) for p in error.problems], **shown)
    found = changes(running, new)
    if not found:
        return page(
            request, "amend.html", 422, problems=[f"{name} changes nothing in the plan '{transition_id}' runs"], **shown
        )
    if action != "propose":
        return page(request, "amend.html", changes=found, **shown)
    try:
        await decide(w, transition_id, build("amend", person, me, {"plan": new, "reason": reason}))
    except BpoError as why:
        key = "problems" if why.kind == "BadInput" else "refusal"
        value: Any = [str(why)] if key == "problems" else str(why)
        return page(request, "amend.html", 409 if key == "refusal" else 422, changes=found, **{key: value}, **shown)
    w.recent.forget(me.email)
    return RedirectResponse(f"/t/{quote(transition_id)}?done=amend#amendments", status_code=303)


@router.post("/t/{transition_id:tid}/status/{update}", response_class=HTMLResponse)
async def send_command(request: Request, transition_id: str, update: str) -> Response:
    """Send command ``update`` from its form on the transition page, as the person signed in; the
    rules refuse what they do not allow, in their own words, and a refusal changes nothing."""
    me = signed_in(request)
    async with request.form(max_files=0, max_fields=40, max_part_size=4000) as form:
        me = checked(request, str(form.get("csrf", ""))[:100])
        person, people = await _member(request, me, transition_id)
        if update not in SENT_HERE:
            raise HTTPException(404, f"'{update}' is not a command sent from a transition's page")
        fields = posted(update, form)
    if update in ("approve", "reject") and not is_amendment(str(fields.get("gate", ""))):
        raise HTTPException(400, "A phase's gate is decided on its own page; this form decides amendments only.")
    w = web(request)
    try:
        await decide(w, transition_id, build(update, person, me, fields))
    except BpoError as why:
        log.info("command_refused", transition_id=transition_id, command=update, person=fingerprint(person.id))
        refused = {"update": update, "words": in_form_words(update, str(why)), "problem": why.kind == "BadInput"}
        return await transition_page(
            request, transition_id, person, people, 422 if refused["problem"] else 409, refused=refused, given=fields
        )
    w.recent.forget(me.email)
    done = "amendment" if update in ("approve", "reject") else update
    return RedirectResponse(f"/t/{quote(transition_id)}?done={quote(done)}", status_code=303)
