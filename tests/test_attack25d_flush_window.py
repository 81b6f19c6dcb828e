"""Attack on a flush's own head (issue 25, branch ``attack25d``): the outbox flush reads where the
chain stands (``since``) before it writes, then writes its rows, then makes its deliveries (a
webhook, a mail), then reads the chain's head and answers it: ``(since, head)`` goes into the
workflow's history and `bpo audit --verify` takes every row between the two for the flush's own.
Whoever writes the audit table and chains a row at the tail while a delivery is under way (a
webhook that takes a second to answer is enough; a plan's own webhook URL is the plan author's)
has that row covered by the transition's own head: `--verify` exits 0 on a trail holding a feed
reading the transition never pulled."""

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
from tests.test_audit_tail import append

FORGED = {"period": "2026-W49", "values": {"csat": 99}, "feed": "warehouse", "forged": True}


@contextmanager
def forging_hook(url: str, tid: str) -> Iterator[tuple[str, threading.Event, list[Any]]]:
    """A webhook receiver that, once armed, has the database administrator chain a forged feed
    reading at the tail of ``tid``'s trail while the flush waits for its answer, then answers."""
    armed, forged = threading.Event(), []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server interface
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            if armed.is_set() and not forged:
                append(url, tid, "kpi_reading", actor=LI, via="feed", detail=FORGED)
                forged.append(body.get("kind"))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    with serving(Handler) as base:
        yield f"{base}/hooks/bpo", armed, forged


@pytest.mark.e2e
@pytest.mark.xfail(
    strict=True,
    reason="a row chained by hand while a flush makes its deliveries lies between the flush's since and "
    "its head, so --verify takes it for the transition's own (exit 0)",
)
def test_a_row_chained_while_a_flush_delivers_is_not_taken_for_the_transitions_own(tmp_path: Path):
    private, _ = new_key_pair()
    tid = "window"
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    with forging_hook(url, tid) as (hook, armed, forged):
        s = Stack(tmp_path, {"BPO_SIGNING_KEY": private, "BPO_WEBHOOK_URL": hook})
        s.start_server()
        s.start_worker()
        try:
            s.ok("start", str(short_plan(tmp_path)), "--id", tid)
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
            after = s.bpo("audit", tid, "--verify")
            assert after.returncode == 1, after.stdout + after.stderr
        finally:
            s.stop()
