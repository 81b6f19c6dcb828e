"""The pages: the inbox and portfolio, a gate, KPI entry, the report, starting a plan, and
personal API tokens (the transition page and its forms: `bpo.web.control`). Every page needs a
session; every form its CSRF token."""

from __future__ import annotations

import asyncio
import html
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import UploadFile as StarletteUpload
from starlette.exceptions import HTTPException

import bpo.web.ids  # noqa: F401 - registers the routes' {transition_id:tid}
from bpo.api import BpoError, get_options, get_plan, get_status, start_transition
from bpo.web import views
from bpo.web.acting import FIELDS, GATE_ACTIONS, NotOnRoster, build, decide, person_in
from bpo.web.deps import current, log, page, templates, web
from bpo.web.office import may_start, refusal
from bpo.web.sessions import Visitor, api_tokens, fingerprint, new_api_token, revoke_api_token, same_token
from bpo.web.transition_view import gate_view
from bpo.web.uploads import ACCEPT, bounded_form, keep_upload
from infra.settings import deployment_connections
from models.commands import ReadingsBatch, RecordReadings
from models.errors import describe
from models.plan import KPI_REPORTERS
from models.plan_loader import PlanError, parse_plan
from models.readings import BadReading, reading_value
from models.readings_file import MAX_CSV_BYTES, ReadingsFileError, parse_readings

router = APIRouter()
MAX_PLAN_BYTES = 1024 * 1024
Csrf = Annotated[str, Form(max_length=100)]
Text = Annotated[str | None, Form(max_length=2000)]


def signed_in(request: Request) -> Visitor:
    """The person signed in, or off to /login."""
    me = current(request)
    if me is None:
        raise HTTPException(303, headers={"Location": f"/login?next={quote(request.url.path)}"})
    return me


def checked(request: Request, csrf: str) -> Visitor:
    """The person signed in, whose form carried their session's token."""
    me = signed_in(request)
    if not same_token(me.csrf, csrf):
        raise HTTPException(403, "This form has expired or did not come from this site. Open the page again.")
    return me


async def _member(request: Request, me: Visitor, transition_id: str) -> Any:
    try:
        return await person_in(web(request), me, transition_id)
    except NotOnRoster as why:
        raise HTTPException(403, str(why)) from None
    except BpoError as why:
        raise HTTPException(404 if why.kind == "UnknownTransition" else 503, str(why)) from None


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, health: str | None = None, phase: str | None = None) -> Response:
    """Waiting on me; and for sponsors and program managers, the portfolio."""
    me = signed_in(request)
    w = web(request)
    try:
        seen = await w.recent.overview(w.client, me.email)
        portfolio = seen.filtered(health or None, phase or None)
    except BpoError as why:
        raise HTTPException(400, str(why)) from None
    inbox = seen.rendered(("inbox",), lambda: _fragment("_inbox.html", rows=seen.inbox))
    key = ("portfolio", health or "", phase or "")
    shown = (
        seen.rendered(key, lambda: _fragment("_portfolio.html", shown=views.by_program(portfolio)))
        if portfolio is not None
        else ""
    )
    context: dict[str, Any] = {"inbox_html": inbox, "portfolio_html": shown, "portfolio": portfolio}
    context |= {"health": health, "phase": phase, "healths": views.HEALTHS}
    return page(request, "home.html", me=me, **context)


def _fragment(name: str, **context: Any) -> Markup:
    """A part of a page, rendered (and escaped) by its template alone."""
    return Markup(templates.get_template(name).render(**context))  # noqa: S704 - autoescaped by Jinja


@router.get("/t/{transition_id:tid}/gates/{gate}", response_class=HTMLResponse)
async def gate(request: Request, transition_id: str, gate: str, done: str | None = None) -> Response:
    """A gate: what it needs, what it has so far, and the buttons this person may use."""
    me = signed_in(request)
    person, people = await _member(request, me, transition_id)
    return await _gate_page(request, transition_id, gate, person, people, done=done if done in GATE_ACTIONS else None)


async def _gate_page(request: Request, tid: str, key: str, person: Any, people: Any, **extra: Any) -> Response:
    w = web(request)
    view = await gate_view(w, tid, key, people)
    if view is None and extra.get("done"):  # the decision passed the phase: the gate has gone
        return RedirectResponse(f"/t/{quote(tid)}?done={quote(extra['done'])}", status_code=303)
    if view is None:
        raise HTTPException(
            404, f"Gate '{key}' is not a gate of the phase under way in '{tid}'; its page shows the gates open now."
        )
    allowed = (await get_options(w.client, tid, person.id)).get(key, [])
    status = 409 if extra.get("refusal") else 422 if extra.get("problem") else 200
    limits = {"accept": ACCEPT, "max_mb": w.settings.evidence_max_mb}
    return page(request, "gate.html", status, t=view["t"], g=view, allowed=allowed, person=person, **limits, **extra)


class GateForm(BaseModel):
    """A decision on a gate as its page's form sends it."""

    model_config = ConfigDict(extra="ignore")

    action: str = Field(max_length=20)
    csrf: str = Field(max_length=100)
    note: str | None = Field(default=None, max_length=2000)
    evidence: str | None = Field(default=None, max_length=500)
    reason: str | None = Field(default=None, max_length=2000)
    item: str | None = Field(default=None, max_length=64)


@router.post("/t/{transition_id:tid}/gates/{gate}", response_class=HTMLResponse)
async def decide_gate(request: Request, transition_id: str, gate: str) -> Response:
    """Approve, tick, reject or waive, as the person signed in; a refusal changes nothing. A file
    given as evidence is checked and kept first; the worker pins it with the approval. Nobody's
    body is read before they are known to be signed in, and never past the evidence limit."""
    me = signed_in(request)
    async with bounded_form(request, web(request).settings.evidence_max_mb) as form:
        try:
            sent = GateForm.model_validate({k: v for k, v in form.items() if isinstance(v, str) and v != ""})
        except ValidationError as bad:
            raise HTTPException(422, describe(bad)) from None
        me = checked(request, sent.csrf)
        person, people = await _member(request, me, transition_id)
        if sent.action not in GATE_ACTIONS:
            raise HTTPException(400, f"'{sent.action}' is not a decision on a gate")
        given: dict[str, Any] = {"note": sent.note, "evidence": sent.evidence, "reason": sent.reason, "item": sent.item}
        if sent.action == "score":  # a number per criterion (score.KEY), and evidence per criterion
            given |= {"scores": _per_key(form, "score."), "evidence": _per_key(form, "evidence.")}
        fields = {k: given[k] for k in FIELDS[sent.action]}
        upload = form.get("evidence_file")
        try:
            if sent.action == "approve" and isinstance(upload, StarletteUpload) and upload.filename:
                fields["evidence"] = await _kept_if_may(request, transition_id, gate, person, upload)
            await decide(web(request), transition_id, build(sent.action, person, me, {"gate": gate, **fields}))
            web(request).recent.forget(me.email)
        except BpoError as why:
            key = "problem" if why.kind == "BadInput" else "refusal"
            return await _gate_page(request, transition_id, gate, person, people, **{key: str(why)}, form=given)
    return RedirectResponse(f"/t/{quote(transition_id)}/gates/{quote(gate)}?done={sent.action}", status_code=303)


def _per_key(form: Any, prefix: str) -> dict[str, str]:
    """The form's ``PREFIX.KEY`` fields that were filled in, by KEY (at most 30, as a scorecard)."""
    found = {k[len(prefix) :]: v.strip() for k, v in form.items() if k.startswith(prefix) and isinstance(v, str)}
    return dict(list({k: v for k, v in found.items() if v}.items())[:30])


async def _kept_if_may(request: Request, tid: str, gate: str, person: Any, upload: StarletteUpload) -> str:
    """Keep an uploaded file only for someone the rules would let approve ``gate`` now (the same
    answer that shows them the button); anyone else's file is never written to the store."""
    w = web(request)
    if "approve" not in (await get_options(w.client, tid, person.id)).get(gate, []):
        log.warning("upload_refused", transition_id=tid, gate=gate, person=fingerprint(person.id))
        raise BpoError(
            f"{person.id} may not approve gate '{gate}' now, so the file {upload.filename!r} was not kept",
            kind="Refused",
        )
    return await keep_upload(w.settings, upload)


@router.get("/t/{transition_id:tid}/kpi", response_class=HTMLResponse)
async def kpi_form(request: Request, transition_id: str) -> Response:
    """Record a period's readings, by form or CSV."""
    me = signed_in(request)
    person, _ = await _member(request, me, transition_id)
    return await _kpi_page(request, transition_id, person)


async def _kpi_page(request: Request, tid: str, person: Any, status_code: int = 200, **extra: Any) -> Response:
    w = web(request)
    plan = await get_plan(w.client, tid)
    may = bool(set(person.roles) & set(plan.kpi_reporters or KPI_REPORTERS))
    return page(request, "kpi.html", status_code, tid=tid, plan=plan, may=may, person=person, **extra)


@router.post("/t/{transition_id:tid}/kpi", response_class=HTMLResponse)
async def kpi_record(request: Request, transition_id: str) -> Response:
    """Readings from the form, or a whole CSV (all or none); a refusal changes nothing."""
    async with request.form(max_files=1, max_fields=80, max_part_size=MAX_CSV_BYTES + 1) as form:
        me = checked(request, str(form.get("csrf", "")))
        person, _ = await _member(request, me, transition_id)
        upload = form.get("readings")
        raw = await upload.read(MAX_CSV_BYTES + 1) if isinstance(upload, StarletteUpload) else b""
        values = {str(k).removeprefix("m_"): str(v) for k, v in form.items() if str(k).startswith("m_") and v}
        period = str(form.get("period", "")).strip()
    w = web(request)
    command: RecordReadings | ReadingsBatch
    try:
        if raw:
            known = (await get_status(w.client, transition_id)).metrics
            command = parse_readings(raw, getattr(upload, "filename", None) or "readings.csv", known, person.id)
            command = command.model_copy(update={"via": me.via, "operator": me.operator})
        else:
            numbers = {}
            for metric, text in values.items():
                try:
                    numbers[metric] = reading_value(metric, text)
                except BadReading as why:
                    raise BpoError(str(why), kind="BadInput") from None
            command = build("record_readings", person, me, {"period": period, "values": numbers})  # type: ignore[assignment]
        await decide(w, transition_id, command)
    except (BpoError, ReadingsFileError) as why:
        return await _kpi_page(request, transition_id, person, 409, refusal=str(why))
    return await _kpi_page(request, transition_id, person, done=True)


@router.get("/t/{transition_id:tid}/report", response_class=HTMLResponse)
async def report(request: Request, transition_id: str) -> Response:
    """The HTML report, as `bpo report` writes it."""
    from bpo.lanes import drawn
    from bpo.report import render_report
    from bpo.web.transition_view import trail

    me = signed_in(request)
    await _member(request, me, transition_id)
    w = web(request)
    status, plan = await get_status(w.client, transition_id), await get_plan(w.client, transition_id)
    rows, now = await trail(w, transition_id), datetime.now(UTC)
    return HTMLResponse(render_report(plan, status, rows, now, lanes=await drawn(w.client, plan, status, now)))


@router.get("/t/{transition_id:tid}/calendar")
async def calendar(request: Request, transition_id: str) -> Response:
    """The iCalendar file, as `bpo calendar` writes it; a program's carries its workstreams' dues."""
    from bpo.calendar import render_calendar
    from bpo.lanes import streams_of

    me = signed_in(request)
    await _member(request, me, transition_id)
    w = web(request)
    status, plan = await get_status(w.client, transition_id), await get_plan(w.client, transition_id)
    streams = (await streams_of(w.client, status))[0] if status.workstreams else {}
    name = transition_id.replace("/", "-")  # a workstream's id names a file too
    return Response(
        render_calendar(plan, status, datetime.now(UTC), streams),
        media_type="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="{name}.ics"'},
    )


@router.get("/t/{transition_id:tid}/qbr", response_class=HTMLResponse)
async def qbr(request: Request, transition_id: str, quarter: str = "") -> Response:
    """The quarter's business-review pack, as `bpo qbr` writes it."""
    from bpo.lanes import drawn
    from bpo.qbr import Quarter, render_qbr
    from bpo.web.transition_view import trail

    me = signed_in(request)
    await _member(request, me, transition_id)
    try:
        chosen = Quarter.parse(quarter)
    except ValueError as why:
        return HTMLResponse(f"<p>{html.escape(str(why))}</p>", status_code=400)
    w = web(request)
    status, plan = await get_status(w.client, transition_id), await get_plan(w.client, transition_id)
    rows, now = await trail(w, transition_id), datetime.now(UTC)
    return HTMLResponse(render_qbr(plan, status, rows, chosen, now, await drawn(w.client, plan, status, now)))


def program_office(request: Request, me: Visitor) -> None:
    """Refuse (403) anyone outside the program office, whatever roles a plan would give them."""
    if not may_start(web(request).settings, me):
        log.warning("start_refused", person=fingerprint(me.email), via=me.via)
        raise HTTPException(403, refusal(me))


@router.get("/start", response_class=HTMLResponse)
async def start_form(request: Request) -> Response:
    """Upload a plan to start a transition (the program office only)."""
    program_office(request, signed_in(request))
    return page(request, "start.html")


@router.post("/start", response_class=HTMLResponse)
async def start(request: Request) -> Response:
    """Start a transition from an uploaded plan (the program office only); every problem shown
    with its line. Nobody's upload is read before they are known to be of the program office."""
    program_office(request, signed_in(request))
    async with bounded_form(request, 1) as form:
        me = checked(request, str(form.get("csrf", ""))[:100])
        plan = form.get("plan")
        if not isinstance(plan, StarletteUpload):
            raise HTTPException(422, "plan: a plan file is required")
        raw = await plan.read(MAX_PLAN_BYTES + 1)
    if len(raw) > MAX_PLAN_BYTES:
        raise HTTPException(413, f"A plan is at most {MAX_PLAN_BYTES // 1024} KB; this one is larger.")
    name = plan.filename or "plan.yaml"
    try:
        text = raw.decode("utf-8")
        if "\x00" in text:
            raise UnicodeDecodeError("utf-8", raw, 0, 1, "NUL byte")
    except UnicodeDecodeError:
        return page(request, "start.html", 422, problems=[f"{name}: not a text file; a plan is YAML in UTF-8"])
    try:
        loaded = parse_plan(text, source=name, env={}, connections=deployment_connections(web(request).settings))
    except PlanError as error:
        return page(request, "start.html", 422, problems=[p.render(name) for p in error.problems])
    w = web(request)
    try:
        tid = await start_transition(
            w.client,
            loaded.plan,
            task_queue=w.settings.task_queue,
            private=bool(w.settings.encryption_key),
            trusted_keys=w.settings.trusted_keys,
            **w.settings.flush_timing,
            signer=w.settings.signer,
            started_by=me.email,
            allow_unsigned=w.settings.allow_unsigned,
        )
    except BpoError as why:
        return page(request, "start.html", 409, problems=[str(why)])
    log.info("transition_started", transition_id=tid, person=fingerprint(me.email), via=me.via)
    return RedirectResponse(f"/t/{quote(tid)}", status_code=303)


@router.get("/me/tokens", response_class=HTMLResponse)
async def tokens(request: Request) -> Response:
    """Personal API tokens: create, list, revoke."""
    me = signed_in(request)
    held = await asyncio.to_thread(api_tokens, web(request).engine, me.email)
    return page(request, "tokens.html", tokens=held, ttl_days=_ttl_days(request))


@router.post("/me/tokens", response_class=HTMLResponse)
async def token_new(
    request: Request,
    csrf: Csrf,
    name: Annotated[str, Form(min_length=1, max_length=100)],
    scope: Annotated[str, Form(pattern=r"^(read|decide)$")],
) -> Response:
    """Create a token with the scope chosen (read, or decide), working for ``BPO_API_TOKEN_TTL``:
    shown this once, kept by its hash."""
    me = checked(request, csrf)
    w = web(request)
    engine = w.engine
    made = await asyncio.to_thread(new_api_token, engine, me.email, name, scope, w.settings.api_token_ttl)
    held = await asyncio.to_thread(api_tokens, engine, me.email)
    return page(request, "tokens.html", tokens=held, made=made, ttl_days=_ttl_days(request))


@router.post("/me/tokens/revoke")
async def token_revoke(request: Request, csrf: Csrf, token: Annotated[str, Form(max_length=64)]) -> Response:
    """Withdraw a token at once."""
    me = checked(request, csrf)
    await asyncio.to_thread(revoke_api_token, web(request).engine, me.email, token)
    return RedirectResponse("/me/tokens", status_code=303)


def _ttl_days(request: Request) -> str:
    return f"{web(request).settings.api_token_ttl.total_seconds() / 86400:g}"
