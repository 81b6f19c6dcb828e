"""Slack, as the tests play it: a real HTTP server on 127.0.0.1 standing in for Slack's Web API
(it checks the bot token, keeps every call and answers as Slack does, ``users.info`` from the
workspace's `members`) and for the ``response_url`` of presses; and button presses signed as Slack
signs them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlencode

from infra.slack import signature_of
from tests.receivers import serving
from tests.stack import EVE, LI

TOKEN = "xoxb-test-bot-token"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM, CHANNEL = "T0ACME001", "C0ACME123"


def member(user: str, email: str | None, name: str, **more: Any) -> dict[str, Any]:
    """A Slack user as ``users.info`` answers with them (its ``user``), the fields we read and a
    few we do not; ``more`` overrides (``deleted``, ``is_bot``, ``is_email_confirmed``)."""
    profile = {"real_name": name, "display_name": name.split()[0].lower(), "team": TEAM, "image_48": ""}
    if email is not None:  # Slack leaves the address out without the scope users:read.email
        profile["email"] = email
    return {
        "id": user, "team_id": TEAM, "name": name.split()[0].lower(), "real_name": name, "tz": "Europe/Berlin",
        "deleted": False, "is_bot": False, "is_app_user": False, "is_admin": False, "is_restricted": False,
        "is_email_confirmed": True, "updated": 1700000000, "profile": profile, **more,
    }  # fmt: skip


def workspace() -> dict[str, dict[str, Any]]:
    """The Slack users of the tests' workspace, by id: Li and Eve with their roster addresses."""
    return {"U0LI00001": member("U0LI00001", LI, "Li Chen"), "U0EVE0001": member("U0EVE0001", EVE, "Eve Novak")}


@dataclass
class FakeSlack:
    """What the stand-in took: API calls by method (with their JSON), presses answered."""

    url: str = ""
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)
    """What the app posted to presses' ``response_url``."""
    refused: list[str] = field(default_factory=list)
    """Calls that came without the bot token."""
    error: str | None = None
    """Slack's error code every API call is answered with, when set (``channel_not_found``)."""
    down: bool = False
    """When set, every API call is answered HTTP 503, as Slack answers in an outage."""
    members: dict[str, dict[str, Any]] = field(default_factory=workspace)
    """The workspace's users ``users.info`` tells of, by id; any other is ``user_not_found``."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def called(self, method: str) -> list[dict[str, Any]]:
        with self.lock:
            return [body for name, body in self.calls if name == method]

    @property
    def api(self) -> str:
        return f"{self.url}/api"

    def response_url(self, n: int) -> str:
        return f"{self.url}/actions/{n}"


@contextmanager
def fake_slack() -> Iterator[FakeSlack]:
    """The stand-in for Slack, serving on loopback while the block runs."""
    slack = FakeSlack()
    posted = iter(range(1, 10_000))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server interface
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
                body: dict[str, Any] = dict(parse_qsl(raw.decode()))
            else:
                body = json.loads(raw or b"{}")
            if self.path.startswith("/actions/"):
                with slack.lock:
                    slack.responses.append(body)
                self._answer({"ok": True})
                return
            method = self.path.removeprefix("/api/")
            if slack.down:
                self._answer({"ok": False, "error": "service_unavailable"}, status=503)
                return
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                with slack.lock:
                    slack.refused.append(method)
                self._answer({"ok": False, "error": "invalid_auth"})
                return
            with slack.lock:
                slack.calls.append((method, body))
            if slack.error:
                self._answer({"ok": False, "error": slack.error})
                return
            if method == "users.info":
                found = slack.members.get(body.get("user", ""))
                self._answer({"ok": True, "user": found} if found else {"ok": False, "error": "user_not_found"})
                return
            ts = f"1700000000.{next(posted):06d}" if method == "chat.postMessage" else body.get("ts")
            self._answer({"ok": True, "channel": CHANNEL, "ts": ts})

        def _answer(self, data: dict[str, Any], status: int = 200) -> None:
            raw = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: Any) -> None:
            pass

    with serving(Handler) as base:
        slack.url = base
        yield slack


def press(
    message: dict[str, Any], action_id: str, user: str, response_url: str, action_ts: str = "1700000100.000001"
) -> dict[str, Any]:
    """A ``block_actions`` payload as Slack sends it when ``user`` presses the button
    ``action_id`` of ``message`` (a ``chat.postMessage`` body the app sent)."""
    button = next(
        e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"] if e["action_id"] == action_id
    )
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM},
        "api_app_id": "A0BPO0001",
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": "1700000000.000001",
            "channel_id": CHANNEL,
            "is_ephemeral": False,
        },
        "trigger_id": "1234567890.987654321.abcdef",
        "team": {"id": TEAM, "domain": "acme"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": CHANNEL, "name": "acme-transition"},
        "message": {"type": "message", "ts": "1700000000.000001", "text": message["text"], "blocks": message["blocks"]},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [{**button, "block_id": "bpo_gate", "type": "button", "action_ts": action_ts}],
    }


def signed(payload: dict[str, Any], secret: str = SECRET, at: float | None = None) -> tuple[bytes, dict[str, str]]:
    """The body and headers of Slack's POST of ``payload``, signed with ``secret`` at ``at``."""
    body = urlencode({"payload": json.dumps(payload)}).encode()
    timestamp = str(int(time.time() if at is None else at))
    return body, {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature_of(secret, timestamp, body),
    }


def submission(view: dict[str, Any], user: str, reason: str, view_id: str = "V0REJECT01") -> dict[str, Any]:
    """A ``view_submission`` payload as Slack sends it when ``user`` submits ``view`` (a modal the
    app opened with ``views.open``) with ``reason`` typed into its input."""
    return {
        "type": "view_submission",
        "team": {"id": TEAM, "domain": "acme"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM},
        "api_app_id": "A0BPO0001",
        "token": "legacy-verification-token",
        "trigger_id": "1234567890.987654321.fedcba",
        "view": {
            "id": view_id,
            "team_id": TEAM,
            "type": "modal",
            "blocks": view["blocks"],
            "private_metadata": view["private_metadata"],
            "callback_id": view["callback_id"],
            "state": {"values": {"reason": {"reason": {"type": "plain_text_input", "value": reason}}}},
            "hash": "1700000400.abcdef",
            "title": view["title"],
            "submit": view["submit"],
            "close": view["close"],
        },
        "response_urls": [],
        "is_enterprise_install": False,
    }


def block_kit_problems(blocks: list[dict[str, Any]]) -> list[str]:
    """What in a message's ``blocks`` breaks Block Kit's published limits (none: it would post)."""
    problems = [] if 0 < len(blocks) <= 50 else [f"{len(blocks)} blocks"]
    for i, block in enumerate(blocks):
        kind, text = block["type"], block.get("text", {}).get("text", "")
        if kind == "header" and (block["text"]["type"] != "plain_text" or len(text) > 150):
            problems.append(f"block {i}: a header is plain text of at most 150 characters")
        if kind == "section":
            fields = block.get("fields", [])
            if not text and not fields or len(text) > 3000 or len(fields) > 10:
                problems.append(f"block {i}: a section has text (at most 3000) or up to 10 fields")
            problems += [f"block {i}: a field over 2000" for f in fields if len(f["text"]) > 2000]
        if kind == "actions":
            elements = block["elements"]
            if not 0 < len(elements) <= 25:
                problems.append(f"block {i}: an actions block holds 1 to 25 elements")
            for e in elements:
                if len(e["text"]["text"]) > 75 or len(e.get("value", "")) > 2000 or len(e.get("url", "")) > 3000:
                    problems.append(f"block {i}: button {e['action_id']} over its limits")
                if len(e["action_id"]) > 255:
                    problems.append(f"block {i}: an action_id over 255")
        if kind == "context" and not 0 < len(block["elements"]) <= 10:
            problems.append(f"block {i}: a context holds 1 to 10 elements")
    return problems
