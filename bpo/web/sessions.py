"""Who is signed in: sessions kept in the audit database (so any replica serves any request),
their cookie, the CSRF token every form carries, and personal API tokens."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete
from sqlmodel import Session, select

from infra.links import digest
from models.web_tables import ApiToken, WebSession

COOKIE = "bpo_session"
LOGIN_COOKIE = "bpo_signin"
"""Binds a single sign-on under way to the browser that started it (login CSRF)."""


@dataclass(frozen=True)
class Visitor:
    """A signed-in person: their address, how they signed in, and their session's form token."""

    email: str
    via: str
    operator: str
    csrf: str = ""
    session_id: str | None = None
    groups: tuple[str, ...] = ()
    """The identity provider's groups for this person (OIDC only; empty for a link or a token)."""
    scope: str = "decide"
    """What the caller may do: ``decide`` (a session, an access token, a decide token) or ``read``."""


def start_session(
    engine: Engine,
    email: str,
    via: str,
    ttl: timedelta,
    issuer: str | None = None,
    subject: str | None = None,
    groups: tuple[str, ...] = (),
) -> str:
    """Open a session for ``email`` (with the provider's ``groups`` for them, if any); returns the
    cookie's value (only its hash is stored)."""
    token, now = secrets.token_urlsafe(32), datetime.now(UTC)
    row = WebSession(
        id=digest(token),
        person=email.lower(),
        via=via,
        issuer=issuer,
        subject=subject,
        groups=json.dumps(list(groups)) if groups else None,
        csrf=secrets.token_urlsafe(24),
        created_at=now,
        expires_at=now + ttl,
    )
    with Session(engine) as session:
        session.add(row)
        session.exec(delete(WebSession).where(WebSession.expires_at < now))  # type: ignore[call-overload, arg-type]
        session.commit()
    return token


def visitor(engine: Engine, cookie: str | None) -> Visitor | None:
    """The person a session cookie belongs to, if it is live."""
    if not cookie:
        return None
    with Session(engine) as session:
        row = session.get(WebSession, digest(cookie))
    if row is None or row.via == "pending" or _aware(row.expires_at) <= datetime.now(UTC):
        return None
    operator = f"{row.issuer} {row.subject}" if row.issuer else row.person
    groups = tuple(json.loads(row.groups)) if row.groups else ()
    return Visitor(email=row.person, via=row.via, operator=operator, csrf=row.csrf, session_id=row.id, groups=groups)


def end_session(engine: Engine, cookie: str | None) -> None:
    """Sign out: the session no longer works, on any replica."""
    if cookie:
        with Session(engine) as session:
            session.exec(delete(WebSession).where(WebSession.id == digest(cookie)))  # type: ignore[call-overload, arg-type]
            session.commit()


def same_token(kept: str | None, sent: str | None) -> bool:
    """Whether a form sent back the token it was given, compared in constant time."""
    return bool(kept) and bool(sent) and hmac.compare_digest((kept or "").encode(), (sent or "").encode())


def hold_login(engine: Engine, state: str, verifier: str, nonce: str, next_path: str, browser: str) -> None:
    """Keep a single sign-on under way (its PKCE verifier and nonce) until the provider returns,
    bound to the browser that started it: ``browser`` is the value of that browser's
    `LOGIN_COOKIE`, of which only the hash is kept (in ``person``, empty on a pending row)."""
    now = datetime.now(UTC)
    row = WebSession(
        id=digest(state),
        person=digest(browser),
        via="pending",
        issuer=next_path,
        subject=nonce,
        csrf=verifier,
        created_at=now,
        expires_at=now + timedelta(minutes=10),
    )
    with Session(engine) as session:
        session.add(row)
        session.commit()


class LoginRefused(Exception):
    """A return from the identity provider that does not complete a sign-in; the message says why."""


def take_login(engine: Engine, state: str, browser: str | None) -> tuple[str, str, str]:
    """The verifier, nonce and next path of a single sign-on under way, once, for the browser that
    started it; `LoginRefused` otherwise. The state is spent by any attempt, matching or not, so
    a callback URL works at most once whoever opens it."""
    with Session(engine) as session:
        row = session.get(WebSession, digest(state))
        if row is None or row.via != "pending":
            raise LoginRefused("The sign-in was not started here, was already used, or took too long.")
        session.delete(row)
        session.commit()
    if not browser or not hmac.compare_digest(row.person.encode(), digest(browser).encode()):
        # Login CSRF: someone else's callback URL opened in this browser would sign it in as them.
        raise LoginRefused(
            "This sign-in was started in another browser, or this browser did not keep its cookie. "
            "Start again from this browser."
        )
    if _aware(row.expires_at) <= datetime.now(UTC):
        raise LoginRefused("The sign-in took too long.")
    return row.csrf, row.subject or "", row.issuer or "/"


TOKEN_SCOPES = ("read", "decide")
"""What a personal API token may do: ``read`` status and the inbox, or also ``decide``."""


def new_api_token(engine: Engine, owner: str, name: str, scope: str, ttl: timedelta) -> str:
    """A personal API token for ``owner`` with ``scope``, working for ``ttl``: returned once,
    stored by its hash."""
    if scope not in TOKEN_SCOPES:
        raise ValueError(f"a token's scope is one of {', '.join(TOKEN_SCOPES)}, not '{scope}'")
    token, now = "bpo_" + secrets.token_urlsafe(32), datetime.now(UTC)
    row = ApiToken(id=digest(token), owner=owner.lower(), name=name, created_at=now, scope=scope, expires_at=now + ttl)
    with Session(engine) as session:
        session.add(row)
        session.commit()
    return token


def api_tokens(engine: Engine, owner: str) -> list[ApiToken]:
    """The tokens ``owner`` holds, newest first (never their values)."""
    with Session(engine) as session:
        query = select(ApiToken).where(ApiToken.owner == owner).order_by(ApiToken.created_at.desc())  # type: ignore[attr-defined]
        return list(session.exec(query))


def revoke_api_token(engine: Engine, owner: str, token_id: str) -> None:
    """Withdraw one of ``owner``'s tokens."""
    with Session(engine) as session:
        session.exec(delete(ApiToken).where(ApiToken.id == token_id, ApiToken.owner == owner))  # type: ignore[call-overload, arg-type]
        session.commit()


class TokenRefused(Exception):
    """A personal API token that does not work (any more); the message says why."""


def api_visitor(engine: Engine, token: str) -> Visitor:
    """The owner of a personal API token, with its scope; `TokenRefused` when it is unknown or
    has expired."""
    now = datetime.now(UTC)
    with Session(engine) as session:
        row = session.get(ApiToken, digest(token))
        if row is None:
            raise TokenRefused("the bearer token is not valid")
        if row.expires_at is None or _aware(row.expires_at) <= now:
            raise TokenRefused(f"the personal token '{row.name}' has expired; make a new one at /me/tokens")
        row.last_used_at = now
        session.add(row)
        session.commit()
        return Visitor(email=row.owner, via="api", operator=f"token {row.name} of {row.owner}", scope=row.scope)


def fingerprint(value: str) -> str:
    """A short, stable mark of a value for logs (never the value)."""
    return hashlib.sha256(value.encode()).hexdigest()[:12]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
