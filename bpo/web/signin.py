"""Signing in and out: single-use links by email (always), single sign-on through OpenID Connect
(when configured), and the embedded default's `/dev/outbox`."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Annotated

import httpx
from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.exceptions import HTTPException

from bpo.web.deps import Web, current, log, message, page, web
from bpo.web.oidc import SignInFailed
from bpo.web.sessions import (
    COOKIE,
    LOGIN_COOKIE,
    LoginRefused,
    end_session,
    fingerprint,
    hold_login,
    same_token,
    start_session,
    take_login,
)
from infra.links import LinkRefused, links_sent_since, mint_link, use_link
from infra.transport import Transport, send_email

router = APIRouter()
FORM_COOKIE = "bpo_form"
Address = Annotated[str, Form(min_length=3, max_length=254, pattern=r"^[^@\s'\"\\]+@[^@\s'\"\\]+$")]
LINKS_PER_ADDRESS_PER_HOUR = 5
LINKS_PER_CLIENT_PER_10_MINUTES = 20
CALLBACK = "/login/oidc/callback"


def safe_next(path: str | None) -> str:
    """Where to go after signing in: a path of this app only, never another site."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


def form_token(request: Request) -> str:
    """The anonymous forms' CSRF token: kept in a cookie and echoed by the form."""
    return request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(24)


def anonymous_form(request: Request, response: Response, token: str) -> Response:
    """``response`` with the anonymous forms' token cookie set."""
    response.set_cookie(FORM_COOKIE, token, httponly=True, samesite="lax", secure=_secure(request), max_age=3600)
    return response


def check_anonymous_form(request: Request, sent: str) -> None:
    """Refuse a sign-in form that did not come from our page."""
    kept = request.cookies.get(FORM_COOKIE)
    if not same_token(kept, sent):
        raise HTTPException(403, "This form has expired or did not come from this site. Open the page again.")


def _secure(request: Request) -> bool:
    base = web(request).settings.web_url or ""
    return request.url.scheme == "https" or base.startswith("https://")


def _base(request: Request) -> str:
    # From the settings, never from the request's Host header, which whoever sends it chooses.
    return (web(request).settings.web_url or "http://localhost:8000").rstrip("/")


def signed_in(
    request: Request, email: str, via: str, next_path: str, groups: tuple[str, ...] = (), **who: str | None
) -> Response:
    """Open a session (keeping the provider's ``groups`` for the person) and go on to ``next_path``."""
    w = web(request)
    token = start_session(w.engine, email, via, w.settings.session_ttl, groups=groups, **who)
    response = RedirectResponse(safe_next(next_path), status_code=303)
    max_age = int(w.settings.session_ttl.total_seconds())
    response.set_cookie(COOKIE, token, httponly=True, samesite="lax", secure=_secure(request), max_age=max_age)
    log.info("signed_in", via=via, person=fingerprint(email))
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "/") -> Response:
    """Ask for a link by address, or sign in through the organisation's provider."""
    token = form_token(request)
    response = page(request, "login.html", next=safe_next(next), csrf=token)
    return anonymous_form(request, response, token)


@router.post("/login", response_class=HTMLResponse)
async def ask_for_link(
    request: Request, email: Address, csrf: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
) -> Response:
    """Send a sign-in link if the address is on a roster; the answer is the same either way."""
    check_anonymous_form(request, csrf)
    w, address = web(request), email.strip().lower()
    client_key = f"link:{request.client.host if request.client else '-'}"
    if w.too_many(client_key, LINKS_PER_CLIENT_PER_10_MINUTES, 600):
        raise HTTPException(429, "Too many sign-in links asked for from here; wait ten minutes and try again.")
    w.later(_send_link(w, address, safe_next(next), _base(request)))
    return page(request, "login_sent.html", email=address)


async def _send_link(w: Web, address: str, next_path: str, base: str) -> None:
    """Mail a link to ``address`` if it is on a running transition's roster and has not had
    too many this hour; runs after the answer, so the page gives nothing away."""
    try:
        from bpo.web.views import on_a_roster

        if not await on_a_roster(w.client, address):
            return
        hour_ago = datetime.now(UTC) - timedelta(hours=1)
        if await asyncio.to_thread(links_sent_since, w.engine, address, hour_ago) >= LINKS_PER_ADDRESS_PER_HOUR:
            log.warning("link_limited", person=fingerprint(address))
            return
        token = await asyncio.to_thread(mint_link, w.engine, address, next_path, w.settings.link_ttl)
        await deliver_link(w, address, f"{base}/login/link/{token}")
    except Exception as error:  # the person sees no difference; the operator sees why
        log.error("link_not_sent", person=fingerprint(address), error=type(error).__name__)


async def deliver_link(w: Web, address: str, link: str) -> None:
    """Mail a sign-in link (in the embedded default, list it on /dev/outbox instead)."""
    if w.settings.web_dev:
        w.dev_outbox.append((datetime.now(UTC), address, link))
        return
    if not w.settings.smtp_url:
        log.error("link_not_sent", person=fingerprint(address), error="BPO_SMTP_URL is not set")
        return
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = w.settings.mail_from, address, "Your sign-in link for bpo-transition"
    hours = w.settings.link_ttl.total_seconds() / 3600
    mail.set_content(
        f"Open this link to sign in to bpo-transition:\n\n{link}\n\n"
        f"It works once, for {hours:g} hours. If you did not ask for it, ignore this mail.\n"
    )
    transport = Transport(allowed_hosts=w.settings.allowed_hosts)
    await asyncio.to_thread(send_email, transport, w.settings.smtp_url, mail, [address])
    log.info("link_sent", person=fingerprint(address))


@router.get("/login/link/{token}", response_class=HTMLResponse)
async def open_link(request: Request, token: str) -> Response:
    """A link opened: a button that spends it (a mail scanner that follows links spends nothing)."""
    try:
        link = await asyncio.to_thread(use_link, web(request).engine, token, False)
    except LinkRefused as why:
        return message(request, "This link no longer works", str(why), 410, offer_link=True)
    form = form_token(request)
    response = page(request, "link.html", token=token, email=link.address, csrf=form)
    return anonymous_form(request, response, form)


@router.post("/login/link/{token}")
async def spend_link(request: Request, token: str, csrf: Annotated[str, Form()]) -> Response:
    """Sign in with a link, once."""
    check_anonymous_form(request, csrf)
    try:
        link = await asyncio.to_thread(use_link, web(request).engine, token)
    except LinkRefused as why:
        return message(request, "This link no longer works", str(why), 410, offer_link=True)
    return signed_in(request, link.address, "web-link", link.next_path)


@router.get("/login/oidc")
async def single_sign_on(request: Request, next: str = "/") -> Response:
    """Off to the organisation's identity provider."""
    w = web(request)
    if w.provider is None:
        raise HTTPException(404, "Single sign-on is not set up here; ask for a link by email instead.")
    try:
        url, state, verifier, nonce = await w.provider.begin(f"{_base(request)}{CALLBACK}")
    except (httpx.HTTPError, ValueError, KeyError, SignInFailed):
        log.error("oidc_unreachable", issuer=w.provider.issuer)
        return message(
            request,
            "Single sign-on is unavailable",
            "The identity provider did not answer; ask for a link by email instead.",
            503,
            offer_link=True,
        )
    browser = secrets.token_urlsafe(32)
    await asyncio.to_thread(hold_login, w.engine, state, verifier, nonce, safe_next(next), browser)
    response = RedirectResponse(url, status_code=303)
    # Lax: the provider's redirect back is a top-level GET, which carries it; no other site's form does.
    response.set_cookie(
        LOGIN_COOKIE, browser, httponly=True, samesite="lax", secure=_secure(request), max_age=600, path=CALLBACK
    )
    return response


@router.get(CALLBACK)
async def single_sign_on_done(request: Request, code: str = "", state: str = "", error: str = "") -> Response:
    """Back from the identity provider: who it says signed in."""
    w = web(request)
    if error:
        return _not_completed(request, f"The identity provider answered: {error[:200]}.")
    try:
        if w.provider is None or not state or not code:
            raise LoginRefused("The sign-in was not started here or took too long.")
        held = await asyncio.to_thread(take_login, w.engine, state, request.cookies.get(LOGIN_COOKIE))
    except LoginRefused as why:
        log.warning("oidc_callback_refused", reason=str(why))
        return _not_completed(request, str(why))
    verifier, nonce, next_path = held
    try:
        email, subject, groups = await w.provider.finish(f"{_base(request)}{CALLBACK}", code, verifier, nonce)
    except SignInFailed as why:
        return _not_completed(request, f"{why}.")
    response = signed_in(request, email, "web-oidc", next_path, groups, issuer=w.provider.issuer, subject=subject)
    response.delete_cookie(LOGIN_COOKIE, path=CALLBACK)
    return response


def _not_completed(request: Request, reason: str) -> Response:
    response = message(request, "Sign-in did not complete", reason, 400, offer_link=True)
    response.delete_cookie(LOGIN_COOKIE, path=CALLBACK)
    return response


@router.post("/logout")
async def sign_out(request: Request, csrf: Annotated[str, Form()]) -> Response:
    """End the session, on every replica."""
    me = current(request)
    if me is not None:
        if not same_token(me.csrf, csrf):
            raise HTTPException(403, "This form has expired. Open the page again.")
        await asyncio.to_thread(end_session, web(request).engine, request.cookies.get(COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/dev/outbox", response_class=HTMLResponse)
async def dev_outbox(request: Request) -> Response:
    """The embedded default's mail: every link the app would have sent, newest first."""
    w = web(request)
    if not w.settings.web_dev:
        raise HTTPException(404, "There is no such page.")
    return page(request, "outbox.html", mails=list(reversed(w.dev_outbox)))
