"""`make run`, as a newcomer meets it: `bpo up` starts the server, a worker, the web app and the
demo transition, says what runs where and then a line per event, keeping the structured logs in
`.data/logs/`; the demo's sponsor signs in through the development outbox and finds her gate."""

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
    web_port, port, ui_port = free_port(), free_port(), free_port()
    env = {"PATH": "/usr/bin:/bin", "BPO_DATA_DIR": str(tmp_path), "BPO_LOG_FORMAT": "json", "HOME": str(tmp_path)}
    log = open(tmp_path / "up.log", "w")  # noqa: SIM115 - closed below
    up = subprocess.Popen(
        [*BPO, "up", "--port", str(port), "--ui-port", str(ui_port), "--web-port", str(web_port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        # As a shell starts a background job (`make run &`, nohup): SIGINT ignored. Ctrl-C, sent
        # below, must stop it all the same.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    base = f"http://127.0.0.1:{web_port}"
    try:
        assert wait_until(lambda: "The engine is running" in (tmp_path / "up.log").read_text(), 90)
        screen = (tmp_path / "up.log").read_text()
        # What runs where: the web app, Temporal's server and Web UI, the data and the logs.
        assert re.search(rf"Web app\s+http://localhost:{web_port}", screen)
        assert re.search(rf"Temporal server\s+127\.0\.0\.1:{port}", screen)
        assert re.search(rf"Temporal Web UI\s+http://localhost:{ui_port}", screen)
        assert re.search(rf"Logs\s+{re.escape(str(tmp_path / 'logs'))}/", screen)
        assert "Ctrl-C stops everything" in screen

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

        # A transition started through `bpo` against the stack shows as lines a person reads.
        started = subprocess.run(
            [*BPO, "start", str(ROOT / "examples" / "reference-plan.yaml"), "--id", "second-look"],
            cwd=ROOT,
            env={**env, "TEMPORAL_ADDRESS": f"127.0.0.1:{port}", "BPO_ALLOW_UNSIGNED": "1"},
            capture_output=True,
            text=True,
        )
        assert started.returncode == 0, started.stderr
        told = lambda: (tmp_path / "up.log").read_text()  # noqa: E731
        assert wait_until(lambda: re.search(r"second-look\s+transition started", told()), 30)
        assert wait_until(lambda: re.search(r"second-look\s+notice sent: .*Strategic planning", told()), 30)
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(timeout=90)  # bpo up gives each of its processes up to 15 s to stop
        except subprocess.TimeoutExpired:
            up.kill()
        log.close()

    screen = (tmp_path / "up.log").read_text()
    assert "Stopped. Logs are in" in screen
    # No JSON and no warning on the terminal: the structured logs are files, one per process.
    assert not [line for line in screen.splitlines() if line.lstrip().startswith("{")], screen
    assert "warn" not in screen.lower() and "alembic" not in screen.lower(), screen
    worker_log = (tmp_path / "logs" / "worker.log").read_text()
    assert '"event": "worker_started"' in worker_log and (tmp_path / "logs" / "web.log").exists()
    assert (tmp_path / "logs" / "server.log").exists()
    # The demo's channels deliver on this machine: nothing warns that one is switched off.
    assert '"level": "warning"' not in worker_log, worker_log
