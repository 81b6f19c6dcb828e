"""Slack users linked to people, in the audit database: the one-time link an unlinked press is
offered, its use by a signed-in person, the person's links and undoing one. Linking and undoing
are kept (a row per link, ``unlinked_at`` set when undone) and logged.

A link binds only the person Slack itself names: the Slack user's address, as ``users.info`` gives
it, must be the address the person signed in with (`owned_by`). Otherwise a presser could send
their link to someone else, and decide as them from Slack once they clicked it."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

import structlog
from pydantic import ValidationError
from sqlalchemy import Engine, update
from sqlmodel import Session, select

from bpo.web.sessions import fingerprint
from infra.links import digest
from infra.slack import SlackApi, SlackFailed
from models.slack import SlackMember
from models.web_tables import SlackLink, SlackLinkToken

log = structlog.get_logger("bpo.web.slack")
LINK_TTL = timedelta(minutes=30)
"""How long a link offered in Slack works: the person opens it at once or presses again."""


class LinkRefused(Exception):
    """Why a Slack link does not work (any more)."""

    title = "This link no longer works"
    status = 410


class NotYours(LinkRefused):
    """The link was made for a Slack user who, by Slack's own word, is not the person signed in."""

    title = "This Slack link is not yours"
    status = 403


class SlackAway(LinkRefused):
    """Slack could not be asked who the link's Slack user is, so nobody can be bound to them."""

    title = "Slack could not be asked"
    status = 503


async def ask_slack(api: SlackApi | None, row: SlackLinkToken, person: str) -> None:
    """Nothing if Slack says the link's Slack user is ``person`` (`owned_by`); else `NotYours`, or
    `SlackAway` when Slack cannot be asked (``api`` is None without the bot token). A refusal is
    logged, the person by fingerprint."""
    bound = log.bind(slack_team=row.team, slack_user=row.user, person=fingerprint(person.lower()))
    try:
        if api is None:
            raise SlackAway(
                f"The web app has no Slack bot token (BPO_SLACK_BOT_TOKEN), so it cannot ask Slack who the "
                f"Slack user {row.user} is; nothing was linked. Ask the deployment's administrator."
            )
        try:
            member = SlackMember.model_validate(await api.user_info(row.user))
        except SlackFailed as failed:
            raise SlackAway(
                f"Slack could not be asked who the Slack user {row.user} is ({failed}); nothing was "
                "linked. Try this link again in a few minutes."
            ) from None
        except ValidationError:
            raise SlackAway(
                f"Slack's answer about the Slack user {row.user} was not one we understand; nothing was linked."
            ) from None
        owned_by(member, row.user, person)
    except LinkRefused as why:
        bound.warning("slack_link_refused", refusal=type(why).__name__)
        raise


def owned_by(member: SlackMember, user: str, person: str) -> None:
    """Nothing if ``member`` (Slack's record of the link's Slack user ``user``) is ``person``: the
    same user, a human whose account is live, whose address in Slack is ``person``'s (any case)
    and, when Slack says so, confirmed; else `NotYours` saying why (`SlackAway` if Slack gave no
    address to compare)."""
    nothing = "Nothing was linked; press the button in Slack yourself to get a link of your own."
    if member.id != user:
        raise SlackAway(f"Slack answered about another user than {user}; nothing was linked. Try again later.")
    if member.deleted or member.is_bot or member.is_app_user:
        what = "deactivated" if member.deleted else "a bot, not a person"
        raise NotYours(f"This link was made for the Slack user {member.shown}, who is {what}. {nothing}")
    address = (member.profile.email or "").strip().lower()
    if not address:
        raise SlackAway(  # Slack leaves the address out when the app lacks the scope
            f"Slack gives no address for the Slack user {member.shown} (the Slack app needs the scope "
            "users:read.email), so it cannot be told they are you; nothing was linked. Ask the deployment's "
            "administrator."
        )
    if address != person.strip().lower():
        raise NotYours(
            f"This link was made for the Slack user {member.shown}, whose Slack address is not yours "
            f"(you are signed in as {person.lower()}). {nothing}"
        )
    if member.is_email_confirmed is False:
        raise NotYours(
            f"The Slack user {member.shown} has not confirmed their address with Slack yet; confirm it "
            "in Slack, then press the button again. Nothing was linked."
        )


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
