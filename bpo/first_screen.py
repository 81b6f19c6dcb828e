"""What `bpo up` shows a person: what runs where, then one short line per event a person cares
about, read from the audit trail. The processes' structured logs go to files under
``.data/logs/`` (one per process), never to the terminal; and the demo's webhook channel posts to
a receiver on this machine, so the embedded default delivers what its demo plan asks for."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO

from sqlalchemy import create_engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from models.tables import AuditRecord

PROCESSES = ("server", "worker", "web")
"""The processes `bpo up` starts, each logging to ``.data/logs/NAME.log``."""


def log_files(data_dir: Path) -> dict[str, IO[bytes]]:
    """One log file per process under ``data_dir/logs``, appended to across restarts."""
    folder = data_dir / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return {name: open(folder / f"{name}.log", "ab") for name in PROCESSES}  # noqa: SIM115 - closed by `bpo up`


class _Receiver(BaseHTTPRequestHandler):
    """Takes a notice and answers 204: the audit trail, not this receiver, is what `bpo up` shows."""

    def do_POST(self) -> None:  # noqa: N802 - the standard library's name
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the standard library's name
        """Quiet: a line per request would be the noise this screen keeps off the terminal."""


def local_receiver() -> tuple[ThreadingHTTPServer, str]:
    """A webhook receiver on a free loopback port, serving from a daemon thread; and its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True, name="bpo-up-webhook").start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/notices"


class _MailSink(socketserver.StreamRequestHandler):
    """Just enough SMTP to take a message and drop it: the demo's people are not real mailboxes,
    and their sign-in links are on the web app's ``/dev/outbox``."""

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("220 bpo-up mail sink")
        while line := self.rfile.readline(4096):
            verb = line[:4].upper()
            if verb == b"QUIT":
                self.reply("221 bye")
                return
            if verb == b"DATA":
                self.reply("354 end with a dot")
                while (body := self.rfile.readline(65536)) and body not in (b".\r\n", b".\n"):
                    pass
            self.reply("250 ok")


def local_mailer() -> tuple[socketserver.ThreadingTCPServer, str]:
    """A mail sink on a free loopback port, serving from a daemon thread; and its ``smtp://`` URL."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _MailSink)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True, name="bpo-up-mail").start()
    return server, f"smtp://127.0.0.1:{server.server_address[1]}"


def opening(*, web: str, ui: str, address: str, data_dir: Path, webhook: str | None, mailer: str | None) -> str:
    """The first screen: what runs where, where its data and logs are, how to stop it."""
    logs = data_dir / "logs"
    lines = [
        "bpo up: the engine on this machine",
        f"  Web app          {web}  (sign-in links for the demo: {web}/dev/outbox)",
        f"  Temporal server  {address}",
        f"  Temporal Web UI  {ui}",
        "  Worker           one, on the task queue the server serves",
        f"  Data             {data_dir}",
        f"  Logs             {logs}/  (server.log, worker.log, web.log)",
    ]
    if webhook:
        lines.append(f"  Webhook          {webhook}  (takes the demo plan's webhook notices)")
    if mailer:
        lines.append(f"  Mail             {mailer}  (takes the demo's mail and drops it)")
    lines.append("Ctrl-C stops everything.")
    return "\n".join(lines)


def _who(row: AuditRecord) -> str:
    return f" by {row.actor}" if row.actor else ""


def event_line(row: AuditRecord, seen_notices: set[str]) -> str | None:
    """A short line for an audit row a person cares about, or None. A notice sent through
    several channels is told once (``seen_notices`` remembers which were)."""
    d, t, gate = row.detail, row.transition_id, row.gate or ""
    at = f"{row.at.astimezone(UTC):%H:%M:%S}"
    text: str | None
    match row.kind:
        case "transition_started":
            text = "transition started"
        case "transition_completed":
            text = "transition completed"
        case "phase_passed":
            text = f"phase {row.phase} passed"
        case "gate_passed":
            text = f"gate {gate} passed"
        case "approved" | "rejected" | "waived" | "scored":
            text = f"gate {gate} {row.kind}{_who(row)}"
        case "escalation" | "escalated":
            text = f"escalation in {row.phase}" + (f" on gate {gate}" if gate else "") + _who(row)
        case "paused" | "resumed" | "cancelled":
            text = f"transition {row.kind}{_who(row)}"
        case "notification_sent":
            notice = str(d.get("notice", row.event_id))
            if notice in seen_notices:
                return None
            seen_notices.add(notice)
            to = ", ".join(str(r) for r in d.get("recipients") or [])
            text = f"notice sent: {d.get('subject', d.get('about', ''))}" + (f" (to {to})" if to else "")
        case "notification_failed":
            subject, channel = d.get("subject", d.get("about", "")), d.get("channel", "")
            text = f"notice failed: {subject} (by {channel}: {d.get('error', '')})"
        case _:
            text = None
    return f"{at}  {t}  {text}" if text else None


def watch_trail(audit_url: str, say: Callable[[str], None], stop: threading.Event, every: float = 1.0) -> None:
    """Tell ``say`` a line per new audit row a person cares about until ``stop`` is set; rows
    recorded before the watch began are history, not news. A trail not there yet (the worker
    creates it) is waited for."""
    engine = create_engine(audit_url)
    since, told, seen_notices = datetime.now(UTC), set[str](), set[str]()
    while not stop.wait(every):
        try:
            with Session(engine) as session:
                query = select(AuditRecord).where(col(AuditRecord.recorded_at) >= since)
                rows = session.exec(query.order_by(col(AuditRecord.recorded_at), col(AuditRecord.position))).all()
        except DBAPIError:  # the worker has not made the tables yet, or is writing: look again soon
            continue
        for row in rows:
            if row.event_id in told:
                continue
            told.add(row.event_id)
            if line := event_line(row, seen_notices):
                say(line)
    engine.dispose()
