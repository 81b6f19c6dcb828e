"""Slack, both ways, on the ground floor: Slack's request signature checked (the web app takes a
button press only with it), and Slack's Web API called with the deployment's bot token
(``chat.postMessage`` by the worker, ``chat.update`` and ``users.info`` by the web app) and a
press answered through its ``response_url``.

Failure texts say what went wrong in our words and Slack's error code, never the token nor a URL:
the worker's are kept in Temporal's history."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from infra.fetching import DEADLINE

TOLERANCE = 300
"""Seconds a signed request's timestamp may differ from our clock (Slack's own advice: five
minutes); an older press is refused, so a press captured on the way cannot be replayed later."""
FOR_GOOD = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "missing_scope",
        "invalid_blocks",
        "msg_too_long",
        "message_not_found",
        "cant_update_message",
        "user_not_found",
        "user_not_visible",
    }
)
"""Slack's error codes that no retry mends: the channel, the token or the message is wrong."""


def signature_of(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's signature of a request: ``v0=`` and the hex HMAC-SHA256, keyed by the app's signing
    secret, of ``v0:{timestamp}:{body}``."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_by_slack(secret: str | None, timestamp: str | None, signature: str | None, body: bytes, now: float) -> bool:
    """Whether ``body`` carries Slack's signature by ``secret``, made within `TOLERANCE` of ``now``
    (compared in constant time). No secret configured: nothing is signed."""
    if not secret or not timestamp or not signature or not timestamp.isdigit():
        return False
    if abs(now - int(timestamp)) > TOLERANCE:
        return False
    return hmac.compare_digest(signature_of(secret, timestamp, body).encode(), signature.encode())


class SlackFailed(Exception):
    """Slack did not take a call; ``for_good`` when trying again cannot help."""

    def __init__(self, message: str, for_good: bool = False) -> None:
        super().__init__(message)
        self.for_good = for_good


def plain_or_loopback(url: str) -> bool:
    """Whether ``url`` is HTTPS, or plain HTTP to this machine (a receiver standing in for Slack)."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return bool(parts.hostname)
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")


@dataclass
class SlackApi:
    """Slack's Web API at ``base`` (``BPO_SLACK_API_URL``), called with the bot token."""

    http: httpx.AsyncClient
    token: str
    base: str = "https://slack.com/api"

    async def call(self, method: str, payload: dict[str, Any], *, form: bool = False) -> dict[str, Any]:
        """Call ``method`` with a JSON body (a form's, for the read methods Slack takes no JSON
        for); Slack's answer, or `SlackFailed` saying why."""
        if not plain_or_loopback(self.base):
            raise SlackFailed("BPO_SLACK_API_URL is not HTTPS; plain HTTP only to this machine", for_good=True)
        url = f"{self.base.rstrip('/')}/{method}"
        headers = {"Authorization": f"Bearer {self.token}"}
        if not form:  # Slack warns of a JSON body without its charset
            headers["Content-Type"] = "application/json; charset=utf-8"
        body: dict[str, Any] = {"data": payload} if form else {"json": payload}
        try:
            async with asyncio.timeout(DEADLINE):
                response = await self.http.post(url, headers=headers, timeout=15, **body)
        except TimeoutError:
            raise SlackFailed(f"Slack gave no complete answer to {method} within {DEADLINE:g} s") from None
        except httpx.HTTPError as error:
            raise SlackFailed(f"Slack could not be reached for {method} ({type(error).__name__})") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise SlackFailed(f"Slack answered {method} with HTTP {response.status_code}; it will be tried again")
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise SlackFailed(f"Slack's answer to {method} was not JSON (HTTP {response.status_code})")
        if not answer.get("ok"):
            code = str(answer.get("error") or f"HTTP {response.status_code}")[:80]
            raise SlackFailed(f"Slack refused {method}: {code}", for_good=code in FOR_GOOD)
        return answer

    async def post(self, channel: str, text: str, blocks: list[dict[str, Any]]) -> str:
        """Post a message with ``blocks`` (``text`` is what notifications and screen readers say);
        returns its timestamp, Slack's id of the message."""
        answer = await self.call("chat.postMessage", {"channel": channel, "text": text, "blocks": blocks})
        return str(answer.get("ts", ""))

    async def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None:
        """Replace the message ``ts`` of ``channel`` with ``blocks``."""
        await self.call("chat.update", {"channel": channel, "ts": ts, "text": text, "blocks": blocks})

    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        """Open a modal for the person whose press gave ``trigger_id`` (it works for 3 seconds)."""
        await self.call("views.open", {"trigger_id": trigger_id, "view": view})

    async def user_info(self, user: str) -> dict[str, Any]:
        """Slack's record of ``user`` (``users.info``; its ``profile.email`` only with the scope
        ``users:read.email``), as Slack gave it: the caller reads what it trusts."""
        answer = await self.call("users.info", {"user": user}, form=True)
        found = answer.get("user")
        if not isinstance(found, dict):
            raise SlackFailed("Slack's answer to users.info named no user", for_good=True)
        return found

    async def whisper(self, channel: str, user: str, text: str) -> None:
        """Tell ``user`` alone, in ``channel`` (an ephemeral message)."""
        await self.call("chat.postEphemeral", {"channel": channel, "user": user, "text": text})


async def respond(http: httpx.AsyncClient, response_url: str, text: str, *, replace: bool = False) -> None:
    """Answer a press through its ``response_url``: to the person alone (ephemeral), or replacing
    the message. Failures are the caller's to log; no token goes with it (the URL is the key)."""
    if not plain_or_loopback(response_url):
        raise SlackFailed("a response_url that is not HTTPS is not answered")
    body: dict[str, Any] = {"text": text, "response_type": "ephemeral", "replace_original": replace}
    try:
        async with asyncio.timeout(DEADLINE):
            response = await http.post(response_url, json=body, timeout=15)
    except (TimeoutError, httpx.HTTPError) as error:
        raise SlackFailed(f"Slack's response_url could not be reached ({type(error).__name__})") from None
    if response.status_code >= 300:
        raise SlackFailed(f"Slack's response_url answered HTTP {response.status_code}")


def now() -> float:
    """The time a request's timestamp is held against (a function, so tests may move it)."""
    return time.time()
