"""Real local receivers for notifications: an HTTP server and an SMTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


@contextmanager
def webhook_receiver(fail_first: int = 0, fail_status: int = 503) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Yields the URL to POST to and the list of (headers, body) it received."""
    received: list[dict[str, Any]] = []
    failures = {"left": fail_first}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server interface
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if failures["left"] > 0:
                failures["left"] -= 1
                self.send_response(fail_status)
                self.end_headers()
                return
            received.append({"headers": dict(self.headers), "body": json.loads(body), "raw": body})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/bpo", received
    finally:
        server.shutdown()
        server.server_close()


class Hook:
    """What a counting webhook receiver took, by notice id; ``down`` makes it answer 503."""

    def __init__(self, down: bool = False) -> None:
        self.down = down
        self.taken: Counter[str] = Counter()
        self.kinds: dict[str, str] = {}
        self.lock = threading.Lock()


@contextmanager
def counting_hook(down: bool = False) -> Iterator[tuple[str, Hook]]:
    """Yields the URL to POST to and a `Hook` counting each notice id it took while up."""
    state = Hook(down)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server interface
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if state.down:
                self.send_response(503)
            else:
                with state.lock:
                    state.taken[self.headers["webhook-id"]] += 1
                    state.kinds[self.headers["webhook-id"]] = body["kind"]
                self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", state
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def smtp_receiver() -> Iterator[tuple[str, list[Any]]]:
    """Yields an ``smtp://`` URL and the list of envelopes it received."""
    received: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            received.append(envelope)
            return "250 OK"

    with socket.socket() as probe:  # aiosmtpd checks readiness on its port, so it needs a real one
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}", received
    finally:
        controller.stop()
