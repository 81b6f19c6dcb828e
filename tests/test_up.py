"""`make run`, as a newcomer meets it: `bpo up` starts the server, a worker, the web app and the
demo transition; the demo's sponsor signs in through the development outbox and finds her gate."""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.stack import BPO, DANA, ROOT, free_port, wait_until
from tests.web_client import Person, text_of

pytestmark = pytest.mark.e2e


def test_bpo_up_serves_the_web_app_in_development_mode_with_the_demo_waiting_on_its_sponsor(tmp_path: Path):
    web_port = free_port()
    env = {"PATH": "/usr/bin:/bin", "BPO_DATA_DIR": str(tmp_path), "BPO_LOG_FORMAT": "json", "HOME": str(tmp_path)}
    log = open(tmp_path / "up.log", "w")  # noqa: SIM115 - closed below
    up = subprocess.Popen(
        [*BPO, "up", "--port", str(free_port()), "--ui-port", str(free_port()), "--web-port", str(web_port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{web_port}"
    try:
        assert wait_until(lambda: "The engine is running" in (tmp_path / "up.log").read_text(), 90)
        assert f"http://localhost:{web_port}" in (tmp_path / "up.log").read_text()

        def answers() -> bool:
            try:
                return httpx.get(f"{base}/login", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        assert wait_until(answers, 60)
        dana = Person(base)
        assert "anyone can sign in as anyone" in dana.get("/login").text
        dana.submit("/login", {"email": DANA, "next": "/"})
        outbox = wait_until(lambda: re.search(r'href="(http[^"]+/login/link/[^"]+)"', dana.get("/dev/outbox").text), 30)
        assert outbox, "the link is listed on /dev/outbox"
        assert dana.sign_in(outbox.group(1).replace("localhost", "127.0.0.1")).status_code == 303
        assert wait_until(lambda: "Slas signed" in text_of(dana.get("/").text), 30)
        # The demo's sponsor is its program office: she may start another transition.
        assert "Start a transition" in text_of(dana.get("/").text) and dana.get("/start").status_code == 200
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(timeout=40)
        except subprocess.TimeoutExpired:
            up.kill()
        log.close()
