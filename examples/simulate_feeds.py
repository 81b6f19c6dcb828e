"""The feed scenario of `examples/simulate.py`: `examples/feed-plan.yaml` with its sources on a
loopback HTTP server and a SQLite warehouse, through an outage, a pull on request and a go-live
approval whose evidence is pinned, then changes and is found changed by the next day's check."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from temporalio.testing import WorkflowEnvironment

from bpo.api import get_status, send, start_transition
from models.commands import Approve, Cancel, PullFeed
from models.connections import Connections, load_connections
from models.feeds import next_period
from models.plan_loader import load_plan

PLAN = Path(__file__).resolve().parent / "feed-plan.yaml"
CONNECTIONS = Path(__file__).resolve().parent / "connections.yaml"
PAT, QUINN = "pat@acme.example", "quinn@northwind.example"
WAREHOUSE_SETTING = "BPO_FEED_WAREHOUSE_URL"
TOKEN_SETTING = "BPO_FEED_GENESYS_TOKEN"  # noqa: S105 - the name of a setting


def local_connections(base: str, folder: Path) -> Path:
    """The example's connections with the contact-centre platform on loopback at ``base``, as a
    file the worker reads (``BPO_CONNECTIONS``)."""
    example = load_connections(CONNECTIONS)
    here = [
        c.model_copy(update={"url": f"{base}/weeks/{{period}}.json"}) if c.kind == "http" else c
        for c in example.connections
    ]
    path = folder / "connections.json"  # JSON is YAML: the file the worker reads
    path.write_text(Connections(connections=here).model_dump_json(exclude_none=True))
    return path


@contextmanager
def platform(weeks: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The contact-centre platform on loopback: each week's figures, and the kickoff minutes."""
    state: dict[str, Any] = {"down": False}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server interface
            week = self.path.rsplit("/", 1)[-1].removesuffix(".json")
            if state["down"] or (week not in weeks and not self.path.endswith(".txt")):
                self.send_response(503)
                self.end_headers()
                return
            body = (
                state.get("readiness", b"Go-live readiness review: all criteria met.")
                if self.path.endswith(".txt")
                else json.dumps({"csat": 91.0, "resolution": {"first_contact": 78.0}}).encode()
            )
            self.send_response(200)
            self.send_header("Content-Type", "text/plain" if self.path.endswith(".txt") else "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()


def warehouse(path: Path, weeks: list[str]) -> str:
    """A SQLite warehouse with each week's average handle time; its SQLAlchemy URL."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS kpi_weekly (iso_week TEXT, metric TEXT, avg_seconds REAL)")
        db.executemany("INSERT INTO kpi_weekly VALUES (?, 'handle_time', 380)", [(w,) for w in weeks])
    return f"sqlite:///{path}"


async def drive_feeds(
    env: WorkflowEnvironment, task_queue: str, base: str, state: dict[str, Any], connections: Path
) -> str:
    """Week one pulled; week two's source down past its six hours ("no data from feed"); back,
    and pulled on request; the gate passes on two weeks; the go-live approval pins its evidence,
    which then changes: the next day's check audits and tells it."""
    plan = load_plan(PLAN, env={}, connections=load_connections(connections)).plan
    tid = await start_transition(env.client, plan, task_queue=task_queue, transition_id="acme-feeds")
    await env.sleep(timedelta(days=8))
    state["down"] = True
    await env.sleep(timedelta(days=7, hours=1))
    state["down"] = False
    await send(env.client, tid, PullFeed(by=QUINN))
    for _ in range(50):
        if (await get_status(env.client, tid)).phase == "go_live":
            break
        await env.sleep(timedelta(seconds=1))
    await send(env.client, tid, Approve(gate="go_live_approved", by=PAT, evidence=f"{base}/readiness.txt"))
    state["readiness"] = b"Go-live readiness review: criteria under review."
    await env.sleep(timedelta(days=1, hours=1))
    await send(env.client, tid, Cancel(by=PAT, reason="simulation over"))
    return tid


def weeks_from(first: str, count: int) -> list[str]:
    """``count`` ISO weeks from ``first``."""
    weeks = [first]
    while len(weeks) < count:
        weeks.append(next_period(weeks[-1], "weekly"))
    return weeks
