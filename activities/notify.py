"""Activities that reach people: a log line, a webhook (HTTP POST of JSON), an email (SMTP) or a
Slack message (Block Kit, through the deployment's Slack app)."""

from __future__ import annotations

import asyncio
import hashlib
import time
from datetime import UTC, datetime
from email.message import EmailMessage

import httpx
import structlog
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from infra.audit import write_entries
from infra.fetching import DEADLINE
from infra.guard import Forbidden
from infra.links import mint_link
from infra.slack import SlackApi, SlackFailed
from infra.slack_blocks import notice_blocks
from infra.transport import Skipped, Transport, bad_channel, send_email
from models.connections import DEPLOYMENT_WEBHOOK
from models.deliveries import AuditEntry, ChainHead, Delivery, Notice
from models.plan import EmailChannel, SlackChannel, WebhookChannel

log = structlog.get_logger(__name__)
LINKED = ("approval_requested", "reminder")
"""Notices that carry a single-use sign-in link to their gate's page, by mail."""


def _email(channel: EmailChannel, notice: Notice, to: list[str], link: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = channel.sender
    message["To"] = ", ".join(to)
    message["Subject"] = notice.subject
    # A stable Message-ID lets a mail system recognise a retried delivery as the same message.
    message["Message-ID"] = f"<{hashlib.sha256(notice.id.encode()).hexdigest()[:32]}@bpo-transition>"
    message["X-Bpo-Notification-Id"] = notice.id
    opening = f"{notice.text}\n\nDecide it here (the link signs you in once): {link}\n" if link else notice.text
    message.set_content(f"{opening}\n\nTransition: {notice.transition_id}\nNotification: {notice.id}\n")
    return message


def sent_entry(delivery: Delivery, refused: dict[str, str]) -> AuditEntry:
    """The audit row of a notice delivered through a channel; its id is the delivery's."""
    notice, channel = delivery.notice, delivery.channel
    return AuditEntry(
        id=f"{notice.id}/{channel.kind}",
        transition_id=notice.transition_id,
        kind="notification_sent",
        phase=str(notice.detail.get("phase", "")),
        at=datetime.now(UTC),
        detail={
            "notice": notice.id,
            "channel": channel.kind,
            "about": notice.kind,
            "subject": notice.subject,
            "recipients": [r.id for r in notice.recipients],
            **({"refused": refused} if refused else {}),
        },
    )


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
            refused = await self.send(delivery, activity.info().attempt)
        except Skipped:
            return
        await asyncio.to_thread(self._audit, sent_entry(delivery, refused))

    async def send(self, delivery: Delivery, attempt: int = 1) -> dict[str, str]:
        """Deliver one notice through one channel; returns the recipients an SMTP server refused.

        Raises:
            Skipped: the channel is off on this worker, or the notice has no one to mail.
            ApplicationError: the delivery failed; ``non_retryable`` when no retry can mend it.
        """
        notice, channel = delivery.notice, delivery.channel
        bound = log.bind(transition_id=notice.transition_id, notice=notice.id, channel=channel.kind)
        to = [r.email for r in notice.recipients if r.email]
        refused: dict[str, str] = {}
        try:
            if isinstance(channel, WebhookChannel):
                await self._post(channel, notice, delivery.client)
            elif isinstance(channel, SlackChannel):
                await self._slack(channel, notice)
            elif isinstance(channel, EmailChannel):
                smtp = self.transport.smtp_url(channel, delivery.client)
                if not to:
                    raise Skipped("no recipient has an email address")
                # A link is minted only for mail bound for the deployment's own mailer: a connection
                # may be a client's relay, and a link signs its holder in on every transition.
                own = channel.connection is None
                message = _email(channel, notice, to, await self._link(notice, to) if own else None)
                refused = await asyncio.to_thread(send_email, self.transport, smtp, message, to)
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
        )
        return refused

    async def _link(self, notice: Notice, to: list[str]) -> str | None:
        """A single-use sign-in link to the gate a request or reminder is about, when the web app's
        address is known; made here, so the token never enters the workflow's history."""
        path, web = notice.detail.get("path"), self.transport.web_url
        if notice.kind not in LINKED or not web or not isinstance(path, str) or len(to) != 1:
            return None
        token = await asyncio.to_thread(mint_link, self.engine, to[0], path, self.transport.link_ttl)
        return f"{web.rstrip('/')}/login/link/{token}"

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

    def _audit(self, entry: AuditEntry, flush: str | None = None, written: list[ChainHead] | None = None) -> None:
        with Session(self.engine) as session:
            write_entries([entry], session=session, flush=flush, written=written)

    async def _post(self, channel: WebhookChannel, notice: Notice, client: str | None) -> None:
        url = self.transport.webhook_url(channel, client)
        body = notice.model_dump_json().encode()
        # The deployment's own webhooks are trusted (its operator set them, often an inside relay)
        # and signed; a URL a plan wrote goes through the guard, unsigned: signed bodies collected
        # there could be replayed to the deployment's own receiver.
        own = bool(channel.connection) or channel.url == DEPLOYMENT_WEBHOOK
        headers = self.transport.webhook_headers(notice.id, body, int(time.time()), sign=own)
        http = self.http if own else self.guarded
        try:
            async with asyncio.timeout(DEADLINE):  # in all, not per read: a dripping server is cut off
                response = await http.post(url, content=body, headers=headers, timeout=15)
        except TimeoutError:
            raise ApplicationError(f"the webhook gave no complete answer within {DEADLINE:g} s") from None
        except Forbidden as refused:
            raise bad_channel(f"the webhook is refused: {refused}") from None
        except httpx.HTTPError as error:
            raise ApplicationError(f"the webhook could not be reached ({type(error).__name__})") from None
        if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
            raise bad_channel(f"the webhook refused the notification: HTTP {response.status_code}")
        if response.status_code >= 300:
            raise ApplicationError(f"the webhook answered HTTP {response.status_code}; it will be tried again")
