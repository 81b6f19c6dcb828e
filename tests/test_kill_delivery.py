"""A worker SIGKILLed in the middle of sending emails: the new worker sends what the dead one
left unsent, and nothing twice, by the receiving SMTP server's own count. (A kill in the instant
between a server's acceptance and the sent row can still send one twice, with the same
Message-ID: docs/semantics.md says so.)"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import REFERENCE_PLAN
from tests.stack import LI, Stack, free_port

pytestmark = pytest.mark.e2e


class Stalling:
    """An SMTP server that stalls every recipient it is given while ``stalling``, so the sender
    can be killed in the middle of its transactions; it keeps every message it takes."""

    def __init__(self) -> None:
        self.stalled = threading.Event()
        self.stalling = True
        self.messages: list[Any] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:  # noqa: N802
        while self.stalling:  # the worker dies meanwhile; these transactions never reach DATA
            self.stalled.set()
            await asyncio.sleep(0.1)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


def test_a_worker_killed_mid_email_leaves_no_email_lost_or_doubled(tmp_path: Path):
    smtp = Stalling()
    port = free_port()
    controller = Controller(smtp, hostname="127.0.0.1", port=port)
    controller.start()
    s = Stack(tmp_path, {"BPO_SMTP_URL": f"smtp://127.0.0.1:{port}"})
    try:
        s.start_server()
        s.start_worker()
        tid = s.ok("start", str(REFERENCE_PLAN), "--id", "killed-mid-mail").strip()
        assert smtp.stalled.wait(60), "no email was attempted"
        time.sleep(1)  # every mail of that flush reaches its recipient and stalls there
        s.kill("worker")
        smtp.stalling = False
        s.start_worker()
        s.ok("approve", tid, "gap_analysis_approved", "--by", LI)  # more mail, from the new worker
        deadline, expected = time.monotonic() + 90, set()
        while time.monotonic() < deadline:
            trail = json.loads(s.ok("audit", tid, "--json"))
            logged = {
                r["detail"]["notice"]
                for r in trail
                if r["kind"] == "notification_sent" and r["detail"]["channel"] == "log"
            }
            mailed = {
                r["detail"]["notice"]
                for r in trail
                if r["kind"] == "notification_sent" and r["detail"]["channel"] == "email"
            }
            expected = logged
            if logged and mailed >= logged and len({m["X-Bpo-Notification-Id"] for m in smtp.messages}) >= len(logged):
                break
            time.sleep(1)
    finally:
        s.stop()
        controller.stop()
    # Each person gets their own mail of a notice: once per notice and person.
    received = Counter((m["X-Bpo-Notification-Id"], m["To"]) for m in smtp.messages)
    assert {notice for notice, _ in received} == expected, "every notice reached the SMTP server"
    assert set(received.values()) == {1}, f"and each once: {[k for k, n in received.items() if n > 1]}"
