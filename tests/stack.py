"""The real thing for end-to-end tests: `bpo server`, `bpo worker` and `bpo` commands as processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BPO = [sys.executable, "-m", "starter"]
REFERENCE_PLAN = Path(__file__).resolve().parent.parent / "examples" / "reference-plan.yaml"
LI, DANA, EVE = "li@acme.example", "dana@acme.example", "eve@acme.example"
RAJ, MO = "raj@northstar.example", "mo@northstar.example"
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A loopback port nothing listens on, kept from the kernel's next picks: a connection to it
    closed from the listening side stays in TIME_WAIT for a minute, during which ``bind(0)``
    (another test's probe, the dev server's own internal ports) never hands it out again, while
    a process that binds it by number still can (the way the Temporal CLI picks its ports)."""
    with socket.socket() as listener:
        # The connection left in TIME_WAIT inherits this, without which nobody could bind the port.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = listener.accept()
            accepted.close()
            client.recv(1)
    return port


class Stack:
    """A dev server and a worker on their own ports and data folder, and a way to run `bpo`."""

    def __init__(self, data_dir: Path, extra_env: dict[str, str] | None = None, ip: str = "127.0.0.1") -> None:
        self.data_dir = data_dir
        self.ip = ip
        self.port, self.ui_port = free_port(), free_port()
        self.env = {
            **os.environ,
            "TEMPORAL_ADDRESS": f"{ip}:{self.port}",
            "BPO_DATA_DIR": str(data_dir),
            "BPO_TASK_QUEUE": "e2e",
            "BPO_LOG_FORMAT": "json",
            "BPO_OPERATOR": "e2e-operator",
            "BPO_ALLOW_UNSIGNED": "1",  # a test stack; tests of the refusal take it out
            **(extra_env or {}),
        }
        self.server: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.web: subprocess.Popen[bytes] | None = None
        self.web_port = free_port()
        self.web_url = f"http://127.0.0.1:{self.web_port}"

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.data_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        return subprocess.Popen([*BPO, *args], env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)

    def start_server(self, *options: str) -> None:
        """`bpo server` on this stack's ports, once it answers. A first start whose server dies
        before it listens (a port of its own taken between its pick and its bind, which the dev
        server answers with a panic) starts again once on new ports; a restart keeps its ports,
        which the worker and the commands already name."""
        first = self.server is None
        for attempt in (1, 2):
            ports = ("--port", str(self.port), "--ui-port", str(self.ui_port), "--ip", self.ip)
            self.server = self._spawn("server", "server", *ports, *options)
            if self._listening(self.server):
                break
            if not first or attempt == 2 or self.server.poll() is None:
                raise RuntimeError((self.data_dir / "server.log").read_text()[-2000:])
            self.port, self.ui_port = free_port(), free_port()
            self.env["TEMPORAL_ADDRESS"] = f"{self.ip}:{self.port}"
        # The frontend port opens before the namespace is served; a query for nothing settles it.
        for _ in range(100):
            if self.bpo("list").returncode == 0:
                return
            time.sleep(0.3)
        raise RuntimeError("the dev server never answered 'bpo list'")

    def _listening(self, server: subprocess.Popen[bytes]) -> bool:
        """Whether ``server`` opens its frontend port within a minute (False if it exits first)."""
        deadline = time.monotonic() + 60
        while server.poll() is None and time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex((self.ip, self.port)) == 0:
                    return True
            time.sleep(0.2)
        return False

    def start_worker(self) -> None:
        """`bpo worker`, once it says it started (its audit database migrated, polling), or has
        exited, or a minute has passed: a command run at once would otherwise race its start."""
        log = self.data_dir / "worker.log"
        started = log.read_text(errors="replace").count("worker_started") if log.exists() else 0
        self.worker = self._spawn("worker", "worker")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.worker.poll() is None:
            if log.read_text(errors="replace").count("worker_started") > started:
                return
            time.sleep(0.1)

    def start_web(self) -> None:
        """`bpo web` on its own port, once it answers."""
        self.web = self._spawn("web", "web", "--port", str(self.web_port))
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.web_port)) == 0:
                    return
            if time.monotonic() > deadline or self.web.poll() is not None:
                raise RuntimeError((self.data_dir / "web.log").read_text()[-2000:])
            time.sleep(0.2)

    def kill(self, which: str) -> None:
        """SIGKILL the server or the worker: no chance to clean up."""
        process = getattr(self, which)
        process.send_signal(signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        for process in (self.web, self.worker, self.server):
            if process and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()

    def bpo(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*BPO, *args], env=self.env, cwd=ROOT, capture_output=True, text=True, input=stdin, timeout=120
        )

    def ok(self, *args: str) -> str:
        done = self.bpo(*args)
        assert done.returncode == 0, f"bpo {' '.join(args)} exited {done.returncode}: {done.stderr}"
        return done.stdout

    def status(self, transition_id: str) -> dict[str, Any]:
        return json.loads(self.ok("status", transition_id, "--json"))

    def history(self, transition_id: str, run_id: str | None = None) -> dict[str, Any]:
        """The workflow's history (its newest run's, or ``run_id``'s) as `temporal workflow show
        --output json` prints it."""
        from infra.binaries import find_binary

        shown = subprocess.run(
            [
                find_binary("temporal"),
                "workflow",
                "show",
                "--workflow-id",
                transition_id,
                *(["--run-id", run_id] if run_id else []),
                "--output",
                "json",
                "--address",
                f"{self.ip}:{self.port}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        return json.loads(shown)

    def wait_for(self, transition_id: str, predicate: Any, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            status = self.status(transition_id)
            if predicate(status):
                return status
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; last status: {json.dumps(status)[:1500]}")
            time.sleep(0.5)

    def verified(self, transition_id: str, timeout: float = 60) -> None:
        """Wait until `bpo audit --verify` passes: the transition's first flushes have settled."""
        deadline = time.monotonic() + timeout
        while (done := self.bpo("audit", transition_id, "--verify")).returncode != 0:
            assert time.monotonic() < deadline, done.stdout + done.stderr
            time.sleep(1)


def short_plan(folder: Path) -> Path:
    """The reference plan with its minimum durations cut to seconds, so a test can wait them out."""
    text = REFERENCE_PLAN.read_text().replace("min_duration: 28d", "min_duration: 3s")
    path = folder / "plan.yaml"
    path.write_text(text.replace("min_duration: 30d", "min_duration: 3s"))
    return path


def drive_to_pilot(s: Stack, tid: str) -> None:
    s.ok("approve", tid, "gap_analysis_approved", "--by", LI, "--note", "gap analysis v3 accepted")
    s.ok("approve", tid, "slas_signed", "--by", DANA)
    s.ok("approve", tid, "slas_signed", "--by", RAJ)
    for item in ("raci", "escalation_matrix", "communication_protocol", "knowledge_base"):
        s.ok("tick", tid, "governance_defined", item, "--by", LI)
    s.ok("approve", tid, "kickoff_held", "--by", LI, "--evidence", "minutes KO-2027-01 in the DMS")
    s.ok("approve", tid, "kickoff_held", "--by", RAJ, "--evidence", "minutes KO-2027-01 in the DMS")
    s.ok("tick", tid, "process_maps", "email_support", "--by", EVE)
    s.ok("tick", tid, "process_maps", "chat_support", "--by", EVE)
    s.ok("approve", tid, "training_signed_off", "--by", MO)
    s.ok("approve", tid, "training_signed_off", "--by", EVE)
    s.ok("kpi", tid, "--by", LI, "--period", "cert-1", "assessment_score=88")


def pass_hypercare(s: Stack, tid: str, csat: str = "90") -> None:
    """Meet every gate of the reference plan's hypercare phase through the `bpo` command."""
    for item in ("shared_calendar", "collaboration_tools", "cultural_orientation", "feedback_channel"):
        s.ok("tick", tid, "integration_done", item, "--by", RAJ)
    for period in ("H1", "H2"):
        s.ok(
            "kpi",
            tid,
            "--by",
            LI,
            "--period",
            period,
            f"csat={csat}",
            "error_rate=1.5",
            "first_response_hours=3",
            "fcr=75",
        )
    s.ok("approve", tid, "hypercare_exit", "--by", DANA)
    s.ok("approve", tid, "hypercare_exit", "--by", RAJ)


def wait_until(check: Any, timeout: float = 30.0) -> Any:
    """The first truthy answer of ``check``, polled; the last answer once ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


@contextmanager
def web_stack(folder: Path, web_port: int | None = None, **env: str) -> Iterator[Stack]:
    """The whole engine with the web app (on ``web_port`` if given), mail going to a real SMTP
    server (its envelopes in ``stack.received``), commands signed by the app's key, and one
    transition of the reference plan, which trusts that key; stopped on leaving."""
    from models.signing import new_key_pair
    from tests.receivers import smtp_receiver

    private, public = new_key_pair()
    with smtp_receiver() as (smtp_url, received):
        keys = {"BPO_SMTP_URL": smtp_url, "BPO_SIGNING_KEY": private, "BPO_TRUSTED_KEYS": public}
        stack = Stack(folder, {**keys, **env})
        if web_port:
            stack.web_port, stack.web_url = web_port, f"http://127.0.0.1:{web_port}"
        stack.env["BPO_WEB_URL"] = stack.web_url
        stack.received = received  # type: ignore[attr-defined]
        try:
            stack.start_server()
            stack.start_worker()
            stack.start_web()
            stack.ok("start", str(REFERENCE_PLAN))
            # Listed with its people before anyone asks for a link: the web app mails one only to
            # an address on a running transition's roster, as the visibility store shows it.
            assert wait_until(lambda: '"phase": "' in stack.ok("list", "--json"), 60), stack.ok("list", "--json")
            yield stack
        finally:
            stack.stop()


@contextmanager
def sso_web_stack(folder: Path, groups: dict[str, list[str]] | None = None, **env: str) -> Iterator[Stack]:
    """`web_stack` with single sign-on through a real OpenID Connect provider (`oidc-provider` on
    the machine's Node.js, tests/browser/provider.mjs) on loopback; ``groups`` gives people a
    groups claim. The provider's issuer is ``stack.issuer``."""
    node = ROOT / "tests" / "browser"
    port, web_port = free_port(), free_port()
    log = folder / "oidc-provider.log"
    command = ["node", str(node / "provider.mjs"), str(port), f"http://127.0.0.1:{web_port}/login/oidc/callback"]
    with open(log, "w") as out:
        provider = subprocess.Popen([*command, *([json.dumps(groups)] if groups else [])], cwd=node, stdout=out, stderr=subprocess.STDOUT)
    try:
        assert wait_until(lambda: "READY" in log.read_text(), 20), log.read_text()
        issuer = f"http://127.0.0.1:{port}"
        oidc = {"BPO_OIDC_ISSUER": issuer, "BPO_OIDC_CLIENT_ID": "bpo-web", "BPO_OIDC_CLIENT_SECRET": "test-client-secret"}
        with web_stack(folder, web_port, **oidc, **env) as stack:
            stack.issuer = issuer  # type: ignore[attr-defined]
            yield stack
    finally:
        provider.terminate()
        provider.wait(timeout=10)
