"""How notices leave the worker: settings resolved here, destinations checked, webhooks signed,
email over verified TLS. Failure texts say what went wrong in our words, never a remote
server's, and never a URL (it may carry a token), since they are kept in Temporal's history."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from temporalio.exceptions import ApplicationError

_REFERENCE = re.compile(r"\$\{([A-Z_]+)\}")


class Skipped(Exception):
    """A channel switched off on this worker: the setting it names is not set here."""


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


@dataclass
class Transport:
    """What the worker holds for delivery: the settings plans may name, the webhook secret and the
    hosts notices may go to (none listed: any)."""

    settings: dict[str, str] = field(default_factory=dict)
    webhook_secret: str | None = None
    allowed_hosts: list[str] = field(default_factory=list)
    web_url: str | None = None
    """The web app's address: an approval request by mail carries a sign-in link to the gate."""
    link_ttl: timedelta = timedelta(hours=24)

    def resolve(self, value: str) -> str:
        """``value`` with each ``${SETTING}`` replaced by this worker's setting, or `Skipped`."""
        missing = [name for name in _REFERENCE.findall(value) if not self.settings.get(name)]
        if missing:
            raise Skipped(f"{', '.join(missing)} is not set on this worker")
        return _REFERENCE.sub(lambda m: self.settings[m.group(1)], value)

    def check_host(self, host: str | None, what: str) -> None:
        """Refuse a destination outside ``BPO_ALLOWED_HOSTS``."""
        allowed = self.allowed_hosts
        if allowed and not any(host == h or (h.startswith(".") and (host or "").endswith(h)) for h in allowed):
            raise bad_channel(f"the {what} host is not in BPO_ALLOWED_HOSTS")

    def webhook_headers(self, notice_id: str, body: bytes, timestamp: int) -> dict[str, str]:
        """Standard Webhooks headers; signed with ``BPO_WEBHOOK_SECRET`` when it is set."""
        headers = {
            "Idempotency-Key": notice_id,
            "X-Bpo-Notification-Id": notice_id,
            "webhook-id": notice_id,
            "webhook-timestamp": str(timestamp),
            "content-type": "application/json",
        }
        if self.webhook_secret:
            key = base64.b64decode(self.webhook_secret.removeprefix("whsec_"))
            signed = f"{notice_id}.{timestamp}.".encode() + body
            headers["webhook-signature"] = (
                "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
            )
        return headers

    def webhook_url(self, url: str) -> str:
        """The resolved URL of a webhook, refused unless HTTPS (plain HTTP only to this machine)."""
        resolved = self.resolve(url)
        parts = urlsplit(resolved)
        if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback(parts.hostname)):
            raise bad_channel("webhooks go over HTTPS; plain HTTP only to this machine")
        self.check_host(parts.hostname, "webhook")
        return resolved


def send_email(transport: Transport, smtp_url: str, message: EmailMessage, to: list[str]) -> dict[str, str]:
    """Send ``message`` over verified TLS (``smtps://``, or STARTTLS on ``smtp://``); returns the
    recipients the server refused, with its code. Plain SMTP only to this machine, and never with
    a password."""
    url = urlsplit(transport.resolve(smtp_url))
    host, implicit = url.hostname or "localhost", url.scheme == "smtps"
    transport.check_host(host, "SMTP")
    context = ssl.create_default_context()
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
            refused = smtp.send_message(message, to_addrs=to)
    except smtplib.SMTPRecipientsRefused as error:
        raise bad_channel(f"the SMTP server refused every recipient ({len(error.recipients)})") from None
    except smtplib.SMTPAuthenticationError:
        raise bad_channel("the SMTP server refused the login") from None
    except ssl.SSLCertVerificationError:
        raise bad_channel("the SMTP server's certificate did not verify") from None
    except (smtplib.SMTPException, OSError) as error:
        raise ApplicationError(f"SMTP delivery failed ({type(error).__name__}); it will be tried again") from None
    return {address: str(code) for address, (code, _) in refused.items()}
