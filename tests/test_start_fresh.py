"""A signed start carries its time: one recorded earlier cannot start an ended transition's id again.
The real dev server, worker, `bpo` and `temporal` commands."""

from __future__ import annotations

import base64
import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from infra.binaries import find_binary
from models.constants import WORKFLOW_NAME
from models.messages import StartTransition
from models.signing import Signer, new_key_pair, sign_start
from tests.stack import DANA, Stack, short_plan, wait_until


def recorded_start(s: Stack, tid: str) -> StartTransition:
    """The start as the transition's history keeps it, for anyone who can read it."""
    first = s.history(tid)["events"][0]["workflowExecutionStartedEventAttributes"]["input"]["payloads"][0]
    data = first["data"] if isinstance(first, dict) and "data" in first else first
    return StartTransition.model_validate(json.loads(base64.b64decode(data)) if isinstance(data, str) else data)


def failure(s: Stack, tid: str, run_id: str) -> str | None:
    """The message run ``run_id`` of ``tid`` failed with, if it failed."""
    for event in s.history(tid, run_id)["events"]:
        failed: Any = event.get("workflowExecutionFailedEventAttributes")
        if failed:
            return str(failed["failure"]["message"])
    return None


@pytest.mark.e2e
def test_a_start_signed_earlier_cannot_start_an_ended_id_again_and_a_new_bpo_start_can(tmp_path: Path):
    private, _ = new_key_pair()
    s = Stack(tmp_path, {"BPO_SIGNING_KEY": private})
    s.start_server()
    s.start_worker()
    try:
        tid = s.ok("start", str(short_plan(tmp_path)), "--id", "ended").strip()
        s.ok("cancel", tid, "--by", DANA, "--reason", "over")
        s.wait_for(tid, lambda status: status["state"] == "cancelled")
        # Cancelled, but the run ends only once its last deliveries are done; a start sent while it
        # is still open would name that run rather than begin a new one.
        assert wait_until(
            lambda: s.history(tid)["events"][-1]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"
        )
        # The recorded start, as it would read had it been signed an hour before (no test waits an
        # hour): sent straight to Temporal's port under the ended id.
        earlier = sign_start(Signer(private), recorded_start(s, tid), datetime.now(UTC) - timedelta(hours=1))
        started = subprocess.run(
            [
                find_binary("temporal"),
                "workflow",
                "start",
                "--type",
                WORKFLOW_NAME,
                "--task-queue",
                "e2e",
                "--workflow-id",
                tid,
                "--id-reuse-policy",
                "AllowDuplicate",
                "--input",
                earlier.model_dump_json(),
                "--address",
                f"{s.ip}:{s.port}",
                "--output",
                "json",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        # That run's own history: right after a start, the newest run as `show` finds it may
        # still be the ended one.
        run_id = json.loads(started.stdout)["runId"]
        said = wait_until(lambda: failure(s, tid, run_id))
        assert said and "a start must be signed within 10 minutes of it" in said, said
        again = s.bpo("start", str(short_plan(tmp_path)), "--id", tid, "--replace-ended")
        assert again.returncode == 0, again.stderr
        assert s.status(tid)["state"] == "running"
    finally:
        s.stop()
