"""Single-use sign-in links: made for an address (by the web app's `/login`, or by the worker
for an approval request), opened once, within their lifetime. Only the token's hash is stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, update
from sqlmodel import Session

from models.web_tables import SignInLink


def digest(token: str) -> str:
    """What the database keeps of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def mint_link(engine: Engine, address: str, next_path: str, ttl: timedelta) -> str:
    """A new link's token for ``address``, leading to ``next_path`` once opened."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    with Session(engine) as session:
        session.add(
            SignInLink(id=digest(token), address=address, next_path=next_path, created_at=now, expires_at=now + ttl)
        )
        session.commit()
    return token


class LinkRefused(Exception):
    """Why a link no longer signs anyone in."""


def use_link(engine: Engine, token: str, spend: bool = True) -> SignInLink:
    """Spend a link (or with ``spend`` false, only look): its record, or `LinkRefused` saying why
    it does not work (unknown, used, expired). Two replicas spending it at once: one wins, the
    other is told it was used."""
    now = datetime.now(UTC)
    with Session(engine) as session:
        link = session.get(SignInLink, digest(token))
        if link is None:
            raise LinkRefused("This sign-in link is not one we sent, or it was mistyped.")
        if link.used_at is not None:
            raise LinkRefused("This sign-in link was already used; each link signs in once.")
        if _aware(link.expires_at) <= now:
            raise LinkRefused("This sign-in link has expired.")
        if not spend:
            return link
        spent = session.execute(
            update(SignInLink).where(SignInLink.id == link.id, SignInLink.used_at.is_(None)).values(used_at=now)  # type: ignore[union-attr, arg-type]
        )
        session.commit()
        if spent.rowcount != 1:  # type: ignore[attr-defined]
            raise LinkRefused("This sign-in link was already used; each link signs in once.")
        session.refresh(link)
        return link


def links_sent_since(engine: Engine, address: str, since: datetime) -> int:
    """How many links went to ``address`` since ``since`` (for the rate limit)."""
    from sqlmodel import func, select

    with Session(engine) as session:
        query = select(func.count()).select_from(SignInLink).where(SignInLink.address == address)
        return int(session.exec(query.where(SignInLink.created_at >= since)).one())  # type: ignore[arg-type]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
