"""The JSON API under /api/: the same decisions and readings as the pages, for ServiceNow, Jira
or a contact-centre platform, authenticated by a bearer token (personal, or the identity
provider's access token). Its OpenAPI document is /api/openapi.json."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, field_validator
from starlette.exceptions import HTTPException

import bpo.web.ids  # noqa: F401 - registers the routes' {transition_id:tid}
from bpo.api import BpoError, get_status
from bpo.web.acting import FIELDS, GATE_ACTIONS, NotOnRoster, build, decide, person_in
from bpo.web.deps import log, web
from bpo.web.oidc import SignInFailed, groups_of, verified_email
from bpo.web.sessions import TokenRefused, Visitor, api_visitor
from models.readings import reading_value
from models.status import TransitionStatus
from workflows.rules.refusals import RefusalKind

router = APIRouter(prefix="/api", tags=["api"])
bearer = HTTPBearer(auto_error=False, description="A personal token from /me/tokens, or an OIDC access token")


async def caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Visitor:
    """The owner of the bearer token, or 401."""
    if credentials is None:
        raise HTTPException(401, "send a bearer token: a personal token from /me/tokens, or an OIDC access token")
    w, token = web(request), credentials.credentials
    if token.startswith("bpo_"):
        try:
            return await asyncio.to_thread(api_visitor, w.engine, token)
        except TokenRefused as why:
            raise HTTPException(401, str(why)) from None
    if w.provider is not None:
        try:
            # Only a token issued to this app: the provider's userinfo answers for any client's.
            claims = await w.provider.access_claims(token)
            # The provider's word now, not a session's: a person removed from a group loses it at once.
            groups = groups_of(claims, w.provider.groups_claim)
            operator = f"{w.provider.issuer} {claims.get('sub')}"
            email = verified_email(claims, w.provider.email_claim)
            return Visitor(email=email, via="api", operator=operator, groups=groups)
        except SignInFailed as why:
            log.info("api_token_refused", reason=str(why))
        except httpx.HTTPError as error:
            log.error("api_token_unchecked", issuer=w.provider.issuer, error=type(error).__name__)
            raise HTTPException(503, "the identity provider did not answer; try again shortly") from None
    raise HTTPException(401, "the bearer token is not valid")


Caller = Annotated[Visitor, Depends(caller)]


async def decider(me: Caller) -> Visitor:
    """The caller, if their token may decide; a ``read`` token gets 403."""
    if me.scope != "decide":
        raise HTTPException(403, "this token may only read; make a token with the scope 'decide' at /me/tokens")
    return me


Decider = Annotated[Visitor, Depends(decider)]


class InboxItem(BaseModel):
    """A gate waiting on the caller."""

    transition: str
    gate: str
    client: str
    phase: str
    health: str
    due: Any = None


class GateInput(BaseModel):
    """What a decision on a gate may carry; which fields count depends on the decision."""

    note: str | None = Field(default=None, max_length=2000)
    evidence: str | dict[str, str] | None = Field(default=None)
    """A link or reference; for a scoring, one per criterion."""
    reason: str | None = Field(default=None, max_length=2000)
    item: str | None = Field(default=None, max_length=64)
    scores: dict[str, float] | None = Field(default=None, max_length=30)
    """A scoring's number per criterion."""


class ReadingsInput(BaseModel):
    """One period's KPI readings."""

    period: str = Field(max_length=32)
    values: dict[str, float]
    correct: bool = False
    reason: str | None = Field(default=None, max_length=2000)

    @field_validator("values", mode="before")
    @classmethod
    def _readings(cls, values: Any) -> Any:
        # Refused in the words every other way of recording a reading uses, before pydantic's own.
        if isinstance(values, dict):
            return {metric: reading_value(str(metric), value) for metric, value in values.items()}
        return values


def _refused(why: BpoError) -> HTTPException:
    return HTTPException(RefusalKind.of(why.kind).status, f"{why} ({why.kind})")


async def _person(request: Request, me: Visitor, transition_id: str) -> Any:
    try:
        person, _ = await person_in(web(request), me, transition_id)
    except NotOnRoster as why:
        raise HTTPException(403, str(why)) from None
    except BpoError as why:
        raise _refused(why) from None
    return person


@router.get("/inbox", response_model=list[InboxItem])
async def inbox(request: Request, me: Caller) -> list[InboxItem]:
    """The gates waiting on the caller, oldest due first."""
    w = web(request)
    rows = (await w.recent.overview(w.client, me.email)).inbox
    return [
        InboxItem(transition=r.id, gate=r.gate or "", client=r.client, phase=r.phase, health=r.health, due=r.due)
        for r in rows
    ]


@router.get("/transitions/{transition_id:tid}", response_model=TransitionStatus)
async def status(request: Request, transition_id: str, me: Caller) -> TransitionStatus:
    """Where a transition stands (as `bpo status --json`)."""
    await _person(request, me, transition_id)
    return await get_status(web(request).client, transition_id)


@router.post("/transitions/{transition_id:tid}/gates/{gate}/{action}", response_model=TransitionStatus)
async def gate_decision(
    request: Request, transition_id: str, gate: str, action: str, body: GateInput, me: Decider
) -> TransitionStatus:
    """Approve, tick, reject or waive a gate as the caller; 409 with the rules' words if refused."""
    if action not in GATE_ACTIONS:
        raise HTTPException(404, f"'{action}' is not a decision on a gate; one of {', '.join(GATE_ACTIONS)}")
    person = await _person(request, me, transition_id)
    fields = {"gate": gate, **body.model_dump(include=set(FIELDS[action]))}
    try:
        status = await decide(web(request), transition_id, build(action, person, me, fields))
        web(request).recent.forget(me.email)
        return status
    except BpoError as why:
        raise _refused(why) from None


@router.post("/transitions/{transition_id:tid}/readings", response_model=TransitionStatus)
async def readings(request: Request, transition_id: str, body: ReadingsInput, me: Decider) -> TransitionStatus:
    """Record one period's KPI readings as the caller."""
    person = await _person(request, me, transition_id)
    fields = body.model_dump(exclude={"correct"} if not body.correct else set())
    try:
        return await decide(web(request), transition_id, build("record_readings", person, me, fields))
    except BpoError as why:
        raise _refused(why) from None
