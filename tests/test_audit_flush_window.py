"""A flush's own head (issue 25, found on branch ``attack25d``): the outbox flush reads where the
chain stands (``since``) before it writes, then writes its rows, then makes its deliveries (a
webhook, a mail), then reads the chain's head and answers it: ``(since, head)`` goes into the
workflow's history and `bpo audit --verify` takes every row between the two for the flush's own.
Whoever writes the audit table and chains a row at the tail while a delivery is under way (a
webhook that takes a second to answer is enough; a plan's own webhook URL is the plan author's)
has that row covered by the transition's own head: `--verify` exits 0 on a trail holding a feed
reading the transition never pulled. No delivery is needed either: an administrator who holds the
table's write lock while a flush queues on it (on PostgreSQL, ``SELECT ... FOR UPDATE`` on the
transition's ``audit_head`` row, the waiting flush plain in ``pg_locks``) chains the row, lets go,
and the flush, retrying, chains its own after it under the same ``since``. Now every write of a
flush answers its own place in the chain, read in its own transaction (`Flushed.writes`), and such
a row lies between two of them: exit 1."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool
from sqlmodel import Session

from infra.audit import read_chain
from infra.chain import row_hash
from infra.db import make_engine
from models.signing import new_key_pair
from models.tables import AuditHead, AuditRecord, audit_uuid
from tests.receivers import serving
from tests.stack import DANA, LI, Stack, short_plan, wait_until
from tests.test_audit_tail import append

FORGED = {"period": "2026-W49", "values": {"csat": 99}, "feed": "warehouse", "forged": True}


@contextmanager
def forging_hook(url: str, tid: str, fails: bool = False) -> Iterator[tuple[str, threading.Event, list[Any]]]:
    """A webhook receiver that, once armed, has the database administrator chain a forged feed
    reading at the tail of ``tid``'s trail while the flush waits for its answer, then answers
    (500 when it ``fails``: the flush writes no sent row; later tries, 204)."""
    armed = threading.Event()
    forged: list[Any] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server interface
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            failing = False
            if armed.is_set() and not forged:
                append(url, tid, "kpi_reading", actor=LI, via="feed", detail=FORGED)
                forged.append(body.get("kind"))
                failing = fails
            self.send_response(500 if failing else 204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    with serving(Handler) as base:
        yield f"{base}/hooks/bpo", armed, forged


def forged_during_a_delivery(
    tmp_path: Path, tid: str, fails: bool, log_channel: bool = True
) -> subprocess.CompletedProcess[str]:
    """A signed pause whose notice reaches the forging webhook; `bpo audit --verify` once no
    flush is under way any more."""
    private, _ = new_key_pair()
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    with forging_hook(url, tid, fails) as (hook, armed, forged):
        s = Stack(tmp_path, {"BPO_SIGNING_KEY": private, "BPO_WEBHOOK_URL": hook})
        s.start_server()
        s.start_worker()
        try:
            plan = short_plan(tmp_path)
            if not log_channel:  # the plan author's channels: a webhook, no log line
                plan.write_text(plan.read_text().replace("  - kind: log\n", ""))
            s.ok("start", str(plan), "--id", tid)
            s.verified(tid)  # its first flushes settle
            armed.set()
            # A legitimate, signed decision whose turn notifies the plan's channels.
            s.ok("pause", tid, "--by", DANA, "--reason", "client holiday")
            assert wait_until(lambda: forged, 60), "no notice reached the webhook"
            with Session(make_engine(url)) as session:
                kinds = [r.kind for r in read_chain(tid, session=session) if (r.detail or {}).get("forged")]
            assert kinds == ["kpi_reading"]  # the forged reading is in the trail
            deadline = time.monotonic() + 90  # exit 3 while a flush is under way; then its verdict
            while (after := s.bpo("audit", tid, "--verify")).returncode == 3 and time.monotonic() < deadline:
                time.sleep(1)
            return after
        finally:
            s.stop()


@pytest.mark.e2e
def test_a_row_chained_while_a_flush_delivers_is_not_taken_for_the_transitions_own(tmp_path: Path):
    after = forged_during_a_delivery(tmp_path, "window", fails=False)
    assert after.returncode == 1, after.stdout + after.stderr


@pytest.mark.e2e
def test_a_row_chained_while_a_delivery_fails_is_not_covered_by_the_flushs_head(tmp_path: Path):
    """Found on branch ``reattack25d``: a delivery that fails writes no sent row, and a plan with
    no log channel writes no log rows at the end, so no later write of the flush shows the gap;
    the flush's head read after its writes covered the row. Its head is its own last write's."""
    after = forged_during_a_delivery(tmp_path, "failing", fails=True, log_channel=False)
    assert after.returncode == 1, after.stdout + after.stderr


@pytest.mark.e2e
def test_a_row_chained_while_a_flush_waits_on_the_write_lock_is_not_taken_for_the_transitions_own(tmp_path: Path):
    private, _ = new_key_pair()
    tid = "locked"
    s = Stack(tmp_path, {"BPO_SIGNING_KEY": private})
    s.start_server()
    s.start_worker()
    try:
        s.ok("start", str(short_plan(tmp_path)), "--id", tid)
        s.verified(tid)  # its first flushes settle
        # The administrator's own connection, holding the write lock (what a Postgres DBA does
        # with SELECT ... FOR UPDATE on audit_head, watching pg_locks for the flush to queue).
        raw = sqlite3.connect(tmp_path / "audit.db", isolation_level=None, check_same_thread=False, timeout=30)
        engine = create_engine("sqlite://", creator=lambda: raw, poolclass=StaticPool)
        with Session(engine) as session:
            session.connection().exec_driver_sql("BEGIN IMMEDIATE")
            # A signed note, sent as Li would: its flush reads where the chain stands, then waits.
            noted: list[subprocess.CompletedProcess[str]] = []
            sender = threading.Thread(target=lambda: noted.append(s.bpo("note", tid, "--by", LI, "steering call")))
            sender.start()
            time.sleep(15)  # `bpo` starts, the update is taken, the flush reads since and queues
            last = read_chain(tid, session=session)[-1]
            event_id = f"{tid}/forged/1"
            row = AuditRecord(id=audit_uuid(event_id), event_id=event_id, transition_id=tid, kind="kpi_reading",
                              phase=last.phase, at=datetime.now(UTC), actor=LI, via="feed", detail=FORGED,
                              position=(last.position or 0) + 1, prev_hash=last.hash)  # fmt: skip
            row.hash = row_hash(row)
            head = session.get(AuditHead, tid)
            assert head is not None
            head.position, head.hash = row.position, row.hash
            session.add_all([row, head])
            session.flush()
            raw.execute("COMMIT")
        sender.join()
        assert noted and noted[0].returncode == 0, noted[0].stderr if noted else "no answer"

        def kinds() -> list[str]:
            with Session(make_engine(f"sqlite:///{tmp_path / 'audit.db'}")) as session:
                return [r.kind for r in read_chain(tid, session=session)]

        assert wait_until(lambda: "noted" in kinds()), kinds()
        assert kinds().index("kpi_reading") < kinds().index("noted"), kinds()  # the note chained after it
        after = s.bpo("audit", tid, "--verify")
        assert after.returncode == 1, after.stdout + after.stderr
    finally:
        s.stop()
