"""Slack users linked to people, in the audit database: the one-time link an unlinked press is
offered, its use by a signed-in person, the person's links and undoing one. Linking and undoing
are kept (a row per link, ``unlinked_at`` set when undone) and logged."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import Engine, update
from sqlmodel import Session, select

from bpo.web.sessions import fingerprint
from infra.links import digest
from models.web_tables import SlackLink, SlackLinkToken

log = structlog.get_logger("bpo.web.slack")
LINK_TTL = timedelta(minutes=30)
"""How long a link offered in Slack works: the person opens it at once or presses again."""


class LinkRefused(Exception):
    """Why a Slack link does not work (any more)."""


def offer_link(engine: Engine, team: str, user: str, ttl: timedelta = LINK_TTL) -> str:
    """A new one-time token binding the Slack user ``team``/``user`` to whoever opens it signed in."""
    token, now = secrets.token_urlsafe(32), datetime.now(UTC)
    with Session(engine) as session:
        session.add(SlackLinkToken(id=digest(token), team=team, user=user, created_at=now, expires_at=now + ttl))
        session.commit()
    return token


def look(engine: Engine, token: str) -> SlackLinkToken:
    """The token's record if it still works, else `LinkRefused` saying why."""
    with Session(engine) as session:
        row = session.get(SlackLinkToken, digest(token))
    if row is None:
        raise LinkRefused("This Slack link is not one we made, or it was mistyped.")
    if row.used_at is not None:
        raise LinkRefused("This Slack link was already used; press the button in Slack again for a new one.")
    if _aware(row.expires_at) <= datetime.now(UTC):
        raise LinkRefused("This Slack link has expired; press the button in Slack again for a new one.")
    return row


def bind(engine: Engine, token: str, person: str, via: str) -> SlackLink:
    """Spend ``token`` and link its Slack user to ``person``, ending any earlier link of that Slack
    user (one Slack user is one person). Two tabs using it at once: one wins."""
    row, now = look(engine, token), datetime.now(UTC)
    with Session(engine) as session:
        spent = session.execute(
            update(SlackLinkToken)
            .where(SlackLinkToken.id == row.id, SlackLinkToken.used_at.is_(None))  # type: ignore[union-attr, arg-type]
            .values(used_at=now)
        )
        if spent.rowcount != 1:  # type: ignore[attr-defined]
            raise LinkRefused("This Slack link was already used; press the button in Slack again for a new one.")
        _end(session, now, team=row.team, user=row.user)
        link = SlackLink(
            id=str(uuid.uuid4()), team=row.team, user=row.user, person=person.lower(), linked_at=now, linked_via=via
        )
        session.add(link)
        session.commit()
        session.refresh(link)
        session.expunge(link)
    log.info("slack_linked", slack_team=row.team, slack_user=row.user, person=fingerprint(person.lower()), via=via)
    return link


def linked_person(engine: Engine, team: str, user: str) -> str | None:
    """The person the Slack user ``team``/``user`` is linked to, if any."""
    with Session(engine) as session:
        query = select(SlackLink).where(SlackLink.team == team, SlackLink.user == user)
        row = session.exec(query.where(SlackLink.unlinked_at.is_(None))).first()  # type: ignore[union-attr]
    return row.person if row else None


def links_of(engine: Engine, person: str) -> list[SlackLink]:
    """``person``'s live links, newest first."""
    with Session(engine) as session:
        query = select(SlackLink).where(SlackLink.person == person.lower(), SlackLink.unlinked_at.is_(None))  # type: ignore[union-attr]
        return list(session.exec(query.order_by(SlackLink.linked_at.desc())))  # type: ignore[attr-defined]


def unlink(engine: Engine, person: str, link_id: str) -> bool:
    """Undo one of ``person``'s links; whether there was one to undo."""
    now = datetime.now(UTC)
    with Session(engine) as session:
        row = session.get(SlackLink, link_id)
        if row is None or row.person != person.lower() or row.unlinked_at is not None:
            return False
        team, user = row.team, row.user
        _end(session, now, team=team, user=user)
        session.commit()
    log.info("slack_unlinked", slack_team=team, slack_user=user, person=fingerprint(person.lower()))
    return True


def _end(session: Session, now: datetime, *, team: str, user: str) -> None:
    session.execute(
        update(SlackLink)
        .where(SlackLink.team == team, SlackLink.user == user, SlackLink.unlinked_at.is_(None))  # type: ignore[union-attr, arg-type]
        .values(unlinked_at=now)
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
