"""`temporal workflow reset` through Temporal's port undoes a transition's signed decisions (and
forgets the request ids it remembered). Temporal's authorizer must deny it to all but operators
(docs/security.md); `bpo audit --verify` reads every run of the id and names a run made by a
reset (issue 25)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from infra.binaries import find_binary
from models.signing import new_key_pair
from tests.stack import LI, Stack, short_plan, wait_until


def temporal(s: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [find_binary("temporal"), *args, "--address", f"{s.ip}:{s.port}"], capture_output=True, text=True, timeout=60
    )


def kinds(s: Stack, tid: str) -> list[str]:
    rows: list[dict[str, Any]] = json.loads(s.ok("audit", tid, "--json"))
    return [r["kind"] for r in rows]


@pytest.mark.e2e
def test_a_reset_that_undoes_a_signed_resume_fails_verify_naming_the_reset_run(tmp_path: Path):
    private, _ = new_key_pair()
    s = Stack(tmp_path, {"BPO_SIGNING_KEY": private})
    s.start_server()
    s.start_worker()
    try:
        tid = s.ok("start", str(short_plan(tmp_path)), "--id", "undo").strip()
        s.ok("pause", tid, "--by", LI, "--reason", "client audit")
        s.ok("resume", tid, "--by", LI)
        wait_until(lambda: "resumed" in kinds(s, tid))
        assert s.bpo("audit", tid, "--verify").returncode == 0
        events = s.history(tid)["events"]
        accepted = next(
            i
            for i, e in enumerate(events)
            if e.get("workflowExecutionUpdateAcceptedEventAttributes", {})
            .get("acceptedRequest", {})
            .get("input", {})
            .get("name")
            == "resume"
        )
        # The workflow task that accepted the resume: a reset to it runs that task again from the
        # history before it (the pause in, the resume not), whatever tasks came in between.
        point = [e for e in events[:accepted] if "workflowTaskCompletedEventAttributes" in e][-1]
        done = temporal(s, "workflow", "reset", "-w", tid, "--event-id", str(point["eventId"]),
                        "--reapply-exclude", "All", "--reason", "insider")  # fmt: skip
        assert done.returncode == 0, done.stderr
        # The signed resume is undone: the transition is paused again, and the trail says resumed.
        assert wait_until(lambda: s.status(tid)["state"] == "paused", timeout=60)
        verified = s.bpo("audit", tid, "--verify")
        assert verified.returncode == 1, verified.stdout + verified.stderr
        assert "was reset through Temporal" in verified.stderr and "insider" in verified.stderr
    finally:
        s.stop()


@pytest.mark.e2e
def test_a_recorded_signed_pause_applied_again_after_a_reset_fails_verify(tmp_path: Path):
    """Reset to the first workflow task, then send the recorded signed pause again from its audit
    row: the reset forgot its request id, so it applies (Temporal's authorizer must deny the
    reset). The reset run writes under the old run's ids (the same run family): rows of other
    content are refused, the same rows again are indistinguishable from a retry, and `--verify`
    names the reset run."""
    private, _ = new_key_pair()
    s = Stack(tmp_path, {"BPO_SIGNING_KEY": private})
    s.start_server()
    s.start_worker()
    try:
        tid = s.ok("start", str(short_plan(tmp_path)), "--id", "reset-me").strip()
        s.ok("pause", tid, "--by", LI, "--reason", "client audit")
        s.ok("resume", tid, "--by", LI)
        rows: list[dict[str, Any]] = wait_until(
            lambda: [r for r in json.loads(s.ok("audit", tid, "--json")) if r["kind"] == "paused"]
        )
        material = {**rows[0]["detail"]["signed"]["fields"], "signature": rows[0]["signature"]}
        done = temporal(s, "workflow", "reset", "-w", tid, "--type", "FirstWorkflowTask",
                        "--reapply-exclude", "All", "--reason", "insider")  # fmt: skip
        assert done.returncode == 0, done.stderr
        sent = temporal(
            s, "workflow", "signal", "--workflow-id", tid, "--name", "pause", "--input", json.dumps(material)
        )
        assert sent.returncode == 0, sent.stderr
        assert wait_until(lambda: s.status(tid)["state"] == "paused", timeout=60)  # applied again
        verified = s.bpo("audit", tid, "--verify")
        assert verified.returncode == 1, verified.stdout + verified.stderr
        assert "was reset through Temporal" in verified.stderr
    finally:
        s.stop()
