"""Real local receivers for notifications: an HTTP server and an SMTP server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from tests.stack import free_port


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 answering with ``handler``; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


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

    with serving(Handler) as base:
        yield f"{base}/hooks/bpo", received


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

    with serving(Handler) as base:
        yield f"{base}/hook", state


@contextmanager
def smtp_receiver() -> Iterator[tuple[str, list[Any]]]:
    """Yields an ``smtp://`` URL and the list of envelopes it received."""
    received: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            received.append(envelope)
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}", received
    finally:
        controller.stop()


class Served:
    """What a loopback document server answers, by path: ``(status, content type, body)``;
    ``redirect`` maps a path to a Location; ``down`` makes every answer 503. Tests change it as
    the world would between periods."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[int, str, bytes]] = {}
        self.redirect: dict[str, str] = {}
        self.down = False
        self.hits: Counter[str] = Counter()
        self.headers: dict[str, dict[str, str]] = {}
        """The headers of the last request for each path."""

    def json(self, path: str, data: Any) -> None:
        self.files[path] = (200, "application/json", json.dumps(data).encode())

    def put(self, path: str, body: bytes, content_type: str = "text/plain") -> None:
        self.files[path] = (200, content_type, body)


@contextmanager
def document_server() -> Iterator[tuple[str, Served]]:
    """A real HTTP server on 127.0.0.1 serving `Served`'s documents; yields its base URL."""
    served = Served()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server interface
            path = self.path.split("?")[0]
            served.hits[path] += 1
            served.headers[path] = dict(self.headers)
            if path in served.redirect:
                self.send_response(302)
                self.send_header("Location", served.redirect[path])
                self.end_headers()
                return
            status, kind, body = (
                (503, "text/plain", b"down") if served.down else served.files.get(path, (404, "text/plain", b"none"))
            )
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with suppress(BrokenPipeError, ConnectionResetError):  # a client that stopped reading at its limit
                self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    with serving(Handler) as base:
        yield base, served
