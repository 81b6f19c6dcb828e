"""Activities that reach people: a log line, a webhook (HTTP POST of JSON) or an email (SMTP)."""

from __future__ import annotations

import asyncio
import hashlib
import smtplib
from datetime import UTC, datetime
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import httpx
import structlog
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.audit import write_entries
from models.messages import AuditEntry, Delivery, Notice
from models.plan import EmailChannel, WebhookChannel

log = structlog.get_logger(__name__)


def _send_email(channel: EmailChannel, notice: Notice, to: list[str]) -> None:
    url = urlsplit(channel.smtp)
    message = EmailMessage()
    message["From"] = channel.sender
    message["To"] = ", ".join(to)
    message["Subject"] = notice.subject
    # A stable Message-ID lets a mail system recognise a retried delivery as the same message.
    message["Message-ID"] = f"<{hashlib.sha256(notice.id.encode()).hexdigest()[:32]}@bpo-transition>"
    message["X-Bpo-Notification-Id"] = notice.id
    message.set_content(f"{notice.text}\n\nTransition: {notice.transition_id}\nNotification: {notice.id}\n")
    smtp_class = smtplib.SMTP_SSL if url.scheme == "smtps" else smtplib.SMTP
    with smtp_class(
        url.hostname or "localhost", url.port or (465 if url.scheme == "smtps" else 25), timeout=20
    ) as smtp:
        if url.username:
            smtp.login(unquote(url.username), unquote(url.password or ""))
        smtp.send_message(message)


class NotifyActivities:
    """Holds the HTTP client and the audit engine; its bound methods are the registered activities."""

    def __init__(self, engine: Engine, http: httpx.AsyncClient) -> None:
        self.engine = engine
        self.http = http

    @activity.defn(name="deliver_notification")
    async def deliver(self, delivery: Delivery) -> None:
        """Deliver one notice through one channel, then note the delivery in the audit trail."""
        notice, channel = delivery.notice, delivery.channel
        bound = log.bind(transition_id=notice.transition_id, notice=notice.id, channel=channel.kind)
        to = [r.email for r in notice.recipients if r.email]
        if isinstance(channel, WebhookChannel):
            await self._post(channel, notice)
        elif isinstance(channel, EmailChannel):
            if not to:
                bound.warning("notification_skipped", reason="no recipient has an email address")
                return
            await asyncio.to_thread(_send_email, channel, notice, to)
        bound.info(
            "notification_sent",
            kind=notice.kind,
            subject=notice.subject,
            recipients=[r.id for r in notice.recipients],
            attempt=activity.info().attempt,
        )
        entry = AuditEntry(
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
            },
        )
        await asyncio.to_thread(self._audit, entry)

    def _audit(self, entry: AuditEntry) -> None:
        with Session(self.engine) as session:
            write_entries([entry], session=session)

    async def _post(self, channel: WebhookChannel, notice: Notice) -> None:
        response = await self.http.post(
            channel.url,
            json=notice.model_dump(mode="json"),
            headers={"Idempotency-Key": notice.id, "X-Bpo-Notification-Id": notice.id},
            timeout=15,
        )
        if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
            raise ApplicationError(
                f"webhook {channel.url} refused the notification: HTTP {response.status_code}",
                type="BadChannel",
                non_retryable=True,
            )
        response.raise_for_status()
