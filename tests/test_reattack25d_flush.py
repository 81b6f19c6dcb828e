"""Re-attack on issue 25's flush anchoring (branch ``reattack25d``): each write of a flush now
answers its own place in the chain (`Flushed.writes`), but the flush still answers, after its
writes and deliveries, the chain's head as it stands then (`audit_head`), with the ``since`` it
read before it wrote anything. A row chained after the flush's last write and before that read
lies under no write's segment and under the final head: a delivery that fails writes no sent row,
and a plan without a log channel writes no log rows at the end, so a webhook that has the database administrator chain a forged reading and then answers 500
(a plan's own webhook URL is the plan author's) leaves that reading covered by the transition's
own head. `--verify` exits 0."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from infra.audit import read_chain
from infra.db import make_engine
from models.signing import new_key_pair
from tests.receivers import serving
from tests.stack import DANA, LI, Stack, short_plan
from tests.test_audit_flush_window import FORGED
from tests.test_audit_tail import append


@contextmanager
def failing_hook(url: str, tid: str) -> Iterator[tuple[str, threading.Event, list[Any]]]:
    """A webhook receiver that, once armed, has the database administrator chain a forged feed
    reading at the tail of ``tid``'s trail and answers 500, so the flush writes no sent row;
    later tries it answers 204."""
    armed = threading.Event()
    forged: list[Any] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server interface
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            if armed.is_set() and not forged:
                append(url, tid, "kpi_reading", actor=LI, via="feed", detail=FORGED)
                forged.append(body.get("kind"))
                self.send_response(500)
            else:
                self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    with serving(Handler) as base:
        yield f"{base}/hooks/bpo", armed, forged


@pytest.mark.e2e
def test_a_row_chained_while_a_delivery_fails_is_covered_by_the_flushs_final_head(tmp_path: Path):
    private, _ = new_key_pair()
    tid = "failing"
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    with failing_hook(url, tid) as (hook, armed, forged):
        s = Stack(tmp_path, {"BPO_SIGNING_KEY": private, "BPO_WEBHOOK_URL": hook})
        s.start_server()
        s.start_worker()
        try:
            plan = short_plan(tmp_path)  # the plan author's channels: a webhook, no log line
            plan.write_text(plan.read_text().replace("  - kind: log\n", ""))
            s.ok("start", str(plan), "--id", tid)
            deadline = time.monotonic() + 60
            while (done := s.bpo("audit", tid, "--verify")).returncode != 0:  # its first flushes settle
                assert time.monotonic() < deadline, done.stdout + done.stderr
                time.sleep(1)
            armed.set()
            # A legitimate, signed decision whose turn notifies the plan's channels.
            s.ok("pause", tid, "--by", DANA, "--reason", "client holiday")
            deadline = time.monotonic() + 60
            while not forged:
                assert time.monotonic() < deadline, "no notice reached the webhook"
                time.sleep(0.5)
            with Session(make_engine(url)) as session:
                kinds = [r.kind for r in read_chain(tid, session=session) if (r.detail or {}).get("forged")]
            assert kinds == ["kpi_reading"]  # the forged reading is in the trail
            deadline = time.monotonic() + 90
            while (after := s.bpo("audit", tid, "--verify")).returncode == 3 and time.monotonic() < deadline:
                time.sleep(1)
            assert after.returncode == 1, after.stdout + after.stderr
        finally:
            s.stop()
