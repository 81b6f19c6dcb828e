"""Activities that reach people: a log line, a webhook (HTTP POST of JSON), an email (SMTP), a
Slack message (Block Kit, through the deployment's Slack app) or a Teams message (an Adaptive Card,
through the deployment's Teams webhook)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from email.message import EmailMessage

import httpx
import structlog
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from infra.addresses import Forbidden
from infra.audit import write_entries
from infra.digests import hold
from infra.fetching import DEADLINE
from infra.links import mint_link
from infra.mail import notice_mail
from infra.slack import SlackApi, SlackFailed
from infra.slack_blocks import notice_blocks
from infra.teams_cards import teams_message
from infra.transport import Skipped, Transport, bad_channel, send_mails
from models.connections import DEPLOYMENT_WEBHOOK
from models.deliveries import AuditEntry, Delivery, Notice, Recipient, sent_entry
from models.notice_facts import page_path
from models.plan import EmailChannel, SlackChannel, TeamsChannel, WebhookChannel

log = structlog.get_logger(__name__)


@dataclass
class Sent:
    """What a delivery came to: the recipients the mail server refused, with its code, and those
    whose copy was held for their daily digest instead of mailed (`infra.digests.hold`)."""

    refused: dict[str, str] = field(default_factory=dict)
    held: list[str] = field(default_factory=list)


class NotifyActivities:
    """Holds the HTTP client and the audit engine; its bound methods are the registered activities."""

    def __init__(
        self,
        engine: Engine,
        http: httpx.AsyncClient,
        transport: Transport | None = None,
        guarded: httpx.AsyncClient | None = None,
    ) -> None:
        self.engine = engine
        self.http = http
        self.transport = transport or Transport()
        # A webhook URL written in the plan goes through ``guarded`` (`infra.guard`); ``http``
        # serves the deployment's own ``${BPO_WEBHOOK_URL}``.
        self.guarded = guarded or http
        self._said: set[tuple[str, str]] = set()

    @activity.defn(name="deliver_notification")
    async def deliver(self, delivery: Delivery) -> None:
        """Deliver one notice through one channel, then note the delivery in the audit trail
        (transitions started before the outbox flush; see `activities.flush`)."""
        try:
            sent = await self.send(delivery, activity.info().attempt)
        except Skipped:
            return
        await asyncio.to_thread(self._audit, sent_entry(delivery, sent.refused, sent.held))

    async def send(self, delivery: Delivery, attempt: int = 1) -> Sent:
        """Deliver one notice through one channel; returns the recipients an SMTP server refused,
        and those a mail was held for, for their daily digest.

        Raises:
            Skipped: the channel is off on this worker, or the notice has no one to mail.
            ApplicationError: the delivery failed; ``non_retryable`` when no retry can mend it.
        """
        notice, channel = delivery.notice, delivery.channel
        bound = log.bind(transition_id=notice.transition_id, notice=notice.id, channel=channel.kind)
        to = [r.email for r in notice.recipients if r.email]
        sent = Sent()
        try:
            if isinstance(channel, WebhookChannel):
                await self._post(channel, notice, delivery.client)
            elif isinstance(channel, SlackChannel):
                await self._slack(channel, notice)
            elif isinstance(channel, TeamsChannel):
                await self._teams(channel, notice, delivery.client)
            elif isinstance(channel, EmailChannel):
                smtp = self.transport.smtp_url(channel, delivery.client)
                if not to:
                    raise Skipped("no recipient has an email address")
                held = await self._held(channel, notice)
                sent.held = [p.id for p in held]
                # Each person gets their own mail, with their own link: a link signs in its holder.
                mails = [
                    (await self._mail(channel, notice, p), [p.email])
                    for p in notice.recipients
                    if p.email and p not in held
                ]
                if mails:
                    sent.refused = await asyncio.to_thread(send_mails, self.transport, smtp, mails)
        except Skipped as off:
            # A channel switched off here stays off for every notice: said once per worker, as a
            # warning, then only at debug level, so a plan's channel cannot flood the log.
            said = (channel.kind, str(off))
            (bound.debug if said in self._said else bound.warning)("notification_skipped", reason=str(off))
            self._said.add(said)
            raise
        bound.info(
            "notification_sent",
            kind=notice.kind,
            subject=notice.subject,
            recipients=[r.id for r in notice.recipients],
            attempt=attempt,
            **({"deferred_to_digest": sent.held} if sent.held else {}),
        )
        return sent

    async def _held(self, channel: EmailChannel, notice: Notice) -> list[Recipient]:
        """The recipients whose copy of ``notice`` is held for their daily digest (kept in the audit
        database before anything is mailed, so it is never lost): only for the deployment's own
        mailer, which sends the digests (a connection may be a client's relay)."""
        if channel.connection is not None:
            return []
        try:
            return await asyncio.to_thread(hold, self.engine, notice, notice.recipients)
        except Exception as error:  # the database is away: nothing is mailed now, all is tried again
            raise ApplicationError(f"the digest table could not be read ({type(error).__name__})") from None

    async def _mail(self, channel: EmailChannel, notice: Notice, person: Recipient) -> EmailMessage:
        """``person``'s own mail of ``notice``, with their own single-use sign-in link to the page
        it is about (its gate's, else its transition's) when the web app's address is known. The
        link is minted only for mail bound for the deployment's own mailer (a connection may be a
        client's relay, and a link signs its holder in on every transition), and made here, so the
        token never enters the workflow's history."""
        web, link = self.transport.web_url, None
        if web and channel.connection is None and person.email:
            path = page_path(notice)
            token = await asyncio.to_thread(mint_link, self.engine, person.email, path, self.transport.link_ttl)
            link = f"{web.rstrip('/')}/login/link/{token}"
        return notice_mail(channel.sender, notice, person, link, web)

    async def _slack(self, channel: SlackChannel, notice: Notice) -> None:
        """Post ``notice`` to a Slack channel with the deployment's bot token, read here on the
        worker, so it never enters the workflow's history."""
        token = self.transport.setting("BPO_SLACK_BOT_TOKEN", self.transport.slack_token)
        self.transport.slack_host()
        text, blocks = notice_blocks(notice, self.transport.web_url)
        try:
            await SlackApi(self.http, token, self.transport.slack_api_url).post(channel.channel, text, blocks)
        except SlackFailed as failed:
            if failed.for_good:
                raise bad_channel(str(failed)) from None
            raise ApplicationError(str(failed)) from None

    def _audit(self, entry: AuditEntry) -> None:
        with Session(self.engine) as session:
            write_entries([entry], session=session)

    async def _post(self, channel: WebhookChannel, notice: Notice, client: str | None) -> None:
        url = self.transport.webhook_url(channel, client)
        body = notice.model_dump_json().encode()
        # The deployment's own webhooks are trusted (its operator set them, often an inside relay)
        # and signed; a URL a plan wrote goes through the guard, unsigned: signed bodies collected
        # there could be replayed to the deployment's own receiver.
        own = bool(channel.connection) or channel.url == DEPLOYMENT_WEBHOOK
        headers = self.transport.webhook_headers(notice.id, body, int(time.time()), sign=own)
        await posted(self.http if own else self.guarded, url, body, headers, "the webhook")

    async def _teams(self, channel: TeamsChannel, notice: Notice, client: str | None) -> None:
        """Post ``notice`` as an Adaptive Card to the deployment's Teams webhook (its URL, which
        holds the webhook's key, is read here on the worker, never in the plan nor the history)."""
        url = self.transport.teams_url(channel, client)
        body = json.dumps(teams_message(notice, self.transport.web_url)).encode()
        # The deployment's own destination, as its own webhooks are: posted unguarded, unsigned
        # (Teams checks no signature; the URL is the key).
        headers = {"content-type": "application/json", "Idempotency-Key": notice.id}
        await posted(self.http, url, body, headers, "the Teams webhook")


async def posted(http: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str], what: str) -> None:
    """POST ``body`` to ``url``; an answer or a failure no retry can mend is `bad_channel`, any
    other failure an `ApplicationError` the outbox tries again. The words name ``what``, never
    the URL (it may carry a key)."""
    try:
        async with asyncio.timeout(DEADLINE):  # in all, not per read: a dripping server is cut off
            response = await http.post(url, content=body, headers=headers, timeout=15)
    except TimeoutError:
        raise ApplicationError(f"{what} gave no complete answer within {DEADLINE:g} s") from None
    except Forbidden as refused:
        raise bad_channel(f"{what} is refused: {refused}") from None
    except httpx.HTTPError as error:
        raise ApplicationError(f"{what} could not be reached ({type(error).__name__})") from None
    if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
        raise bad_channel(f"{what} refused the notification: HTTP {response.status_code}")
    if response.status_code >= 300:
        raise ApplicationError(f"{what} answered HTTP {response.status_code}; it will be tried again")
