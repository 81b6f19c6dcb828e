"""How notices leave the worker: destinations checked against the boundary and the deployment's
connections, settings read here, webhooks signed, email over verified TLS. Failure texts say what
went wrong in our words, never a remote server's, and never a URL (it may carry a token), since
they are kept in Temporal's history."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from temporalio.exceptions import ApplicationError

from models.boundary import channel_problem, connection_kind
from models.connections import DEPLOYMENT_WEBHOOK, ConnectionRefused, Connections
from models.plan import EmailChannel, TeamsChannel, WebhookChannel


class Skipped(Exception):
    """A channel switched off on this worker: the setting it names is not set here."""


def switched_off(reason: str) -> ApplicationError:
    """A channel the boundary refuses: kept as failed, its reason audited, never sent."""
    return bad_channel(f"the channel is switched off: {reason}")


def bad_channel(message: str) -> ApplicationError:
    """A failure no retry can mend: the channel is wrong, not down."""
    return ApplicationError(message, type="BadChannel", non_retryable=True)


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` is this machine."""
    if not host or host == "localhost":
        return bool(host)
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# httpx logs each request's whole URL at info, and a webhook's URL may be its key (a Teams
# workflow's signature, a token in a connection's URL): never at a level a worker writes.
logging.getLogger("httpx").setLevel(logging.WARNING)

@dataclass
class Transport:
    """What the worker holds for delivery: the deployment's connections and the values of the
    settings they name, its own webhook and mailer (``${BPO_WEBHOOK_URL}``, ``BPO_SMTP_URL``), the
    webhook secret and the hosts notices may go to (none listed: any)."""

    settings: dict[str, str] = field(default_factory=dict)
    """The settings the connections name (`infra.settings.connection_secrets`), by name."""
    connections: Connections = field(default_factory=Connections)
    webhook: str | None = None
    """``BPO_WEBHOOK_URL``: where a plan's ``${BPO_WEBHOOK_URL}`` channel posts."""
    mailer: str | None = None
    """``BPO_SMTP_URL``: the deployment's mail server."""
    webhook_secret: str | None = None
    allowed_hosts: list[str] = field(default_factory=list)
    web_url: str | None = None
    """The web app's address: an approval request by mail carries a sign-in link to the gate."""
    link_ttl: timedelta = timedelta(hours=24)
    slack_token: str | None = None
    """``BPO_SLACK_BOT_TOKEN``: the Slack app's bot token a plan's ``kind: slack`` channels post with."""
    slack_api_url: str = "https://slack.com/api"
    teams_webhook: str | None = None
    """``BPO_TEAMS_WEBHOOK_URL``: where a plan's ``kind: teams`` channel without a connection posts."""

    def setting(self, name: str, value: str | None = None) -> str:
        """This worker's value of the setting ``name`` (``value`` when given, one of its own, else
        one a connection names), or `Skipped` when it has none."""
        value = value or self.settings.get(name)
        if not value:
            raise Skipped(f"{name} is not set on this worker")
        return value

    def _connected(self, channel: EmailChannel | WebhookChannel | TeamsChannel, client: str | None) -> str:
        """The URL of the connection ``channel`` names, if it is open to ``client``."""
        try:
            connection = self.connections.allowed(channel.connection or "", (connection_kind(channel),), client)
        except ConnectionRefused as refused:
            raise switched_off(str(refused)) from None
        return connection.url or self.setting(connection.url_from or "")

    def smtp_url(self, channel: EmailChannel, client: str | None) -> str:
        """The deployment's mailer for ``channel``: ``BPO_SMTP_URL`` or the connection it names.
        A mail server the plan names itself is refused: mail carries sign-in links."""
        if channel.connection:
            return self._connected(channel, client)
        if problem := channel_problem(channel):
            raise switched_off(problem)
        return self.setting("BPO_SMTP_URL", self.mailer)

    def check_host(self, host: str | None, what: str) -> None:
        """Refuse a destination outside ``BPO_ALLOWED_HOSTS``."""
        allowed = self.allowed_hosts
        if allowed and not any(host == h or (h.startswith(".") and (host or "").endswith(h)) for h in allowed):
            raise bad_channel(f"the {what} host is not in BPO_ALLOWED_HOSTS")

    def webhook_headers(self, notice_id: str, body: bytes, timestamp: int, sign: bool = True) -> dict[str, str]:
        """Standard Webhooks headers, signed with ``BPO_WEBHOOK_SECRET`` when it is set and ``sign``."""
        headers = {
            "Idempotency-Key": notice_id,
            "X-Bpo-Notification-Id": notice_id,
            "webhook-id": notice_id,
            "webhook-timestamp": str(timestamp),
            "content-type": "application/json",
        }
        if sign and self.webhook_secret:
            key = base64.b64decode(self.webhook_secret.removeprefix("whsec_"))
            signed = f"{notice_id}.{timestamp}.".encode() + body
            headers["webhook-signature"] = (
                "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
            )
        return headers

    def slack_host(self) -> None:
        """Refuse a Slack API outside ``BPO_ALLOWED_HOSTS``."""
        self.check_host(urlsplit(self.slack_api_url).hostname, "Slack API")

    def webhook_url(self, channel: WebhookChannel, client: str | None) -> str:
        """Where a webhook posts: ``BPO_WEBHOOK_URL``, the connection it names, or a plain URL the
        plan gives; refused unless HTTPS (plain HTTP only to this machine)."""
        if channel.connection:
            resolved = self._connected(channel, client)
        elif problem := channel_problem(channel):
            raise switched_off(problem)
        elif channel.url == DEPLOYMENT_WEBHOOK:
            resolved = self.setting("BPO_WEBHOOK_URL", self.webhook)
        else:
            resolved = channel.url or ""
        return self._checked(resolved, "webhook")

    def teams_url(self, channel: TeamsChannel, client: str | None) -> str:
        """Where a Teams channel posts: the webhook connection it names, else
        ``BPO_TEAMS_WEBHOOK_URL``; refused unless HTTPS (plain HTTP only to this machine)."""
        if channel.connection:
            return self._checked(self._connected(channel, client), "Teams webhook")
        return self._checked(self.setting("BPO_TEAMS_WEBHOOK_URL", self.teams_webhook), "Teams webhook")

    def _checked(self, resolved: str, what: str) -> str:
        parts = urlsplit(resolved)
        if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback(parts.hostname)):
            raise bad_channel(f"{what}s go over HTTPS; plain HTTP only to this machine")
        self.check_host(parts.hostname, what)
        return resolved


def send_email(transport: Transport, smtp_url: str, message: EmailMessage, to: list[str]) -> dict[str, str]:
    """Send ``message`` to ``to`` through the mailer at ``smtp_url``; see `send_mails`."""
    return send_mails(transport, smtp_url, [(message, to)])


def send_mails(transport: Transport, smtp_url: str, mails: list[tuple[EmailMessage, list[str]]]) -> dict[str, str]:
    """Send each message to its recipients through the mailer at ``smtp_url`` (see
    `Transport.smtp_url`), in one session, over verified TLS (``smtps://``, or STARTTLS on
    ``smtp://``); returns the recipients the server refused, with its code. Plain SMTP only to
    this machine, and never with a password."""
    refused = mail_answers(transport, smtp_url, mails)
    if mails and len(refused) >= len({a for _, to in mails for a in to}):
        raise bad_channel(f"the SMTP server refused every recipient ({len(refused)})")
    return {a: str(code) for a, (code, _) in refused.items()}


def mail_answers(
    transport: Transport, smtp_url: str, mails: list[tuple[EmailMessage, list[str]]]
) -> dict[str, tuple[int, str]]:
    """Send as `send_mails` does, but return each recipient the server refused with its code and
    its own words, even when it refused them all: the caller decides what a refusal means (a
    digest refused for good is kept refused). The words are the remote server's: never put them
    in a failure text (kept in Temporal's history)."""
    url = urlsplit(smtp_url)
    host, implicit = url.hostname or "localhost", url.scheme == "smtps"
    transport.check_host(host, "SMTP")
    context = ssl.create_default_context()
    refused: dict[str, tuple[int, str]] = {}
    try:
        if implicit:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, url.port or 465, timeout=20, context=context)
        else:
            smtp = smtplib.SMTP(host, url.port or 25, timeout=20)
        with smtp:
            if not implicit:
                smtp.ehlo()
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=context)
                    smtp.ehlo()
                elif url.username or not is_loopback(host):
                    raise bad_channel("the SMTP server offers no STARTTLS; mail and passwords go only over TLS")
            if url.username:
                smtp.login(unquote(url.username), unquote(url.password or ""))
            for message, to in mails:
                try:
                    refused |= _answers(smtp.send_message(message, to_addrs=to))
                except smtplib.SMTPRecipientsRefused as error:  # this message's only: the others still go
                    refused |= _answers(error.recipients)
    except smtplib.SMTPAuthenticationError:
        raise bad_channel("the SMTP server refused the login") from None
    except ssl.SSLCertVerificationError:
        raise bad_channel("the SMTP server's certificate did not verify") from None
    except (smtplib.SMTPException, OSError) as error:
        raise ApplicationError(f"SMTP delivery failed ({type(error).__name__}); it will be tried again") from None
    return refused


def _answers(refused: dict[str, tuple[int, bytes]]) -> dict[str, tuple[int, str]]:
    return {a: (code, words.decode("utf-8", "replace")) for a, (code, words) in refused.items()}
