"""A refused signed command is not taken later from its record: the real dev server, worker,
`bpo` and `temporal` commands. Whoever reads a ``signal_refused`` row holds a validly signed
command; once the transition's state would let it pass, sending it again must change nothing,
while a person trying again from the command line (a new request id) is answered."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from infra.binaries import find_binary
from models.signing import Signer, new_key_pair
from tests.stack import LI, Stack, short_plan, wait_until


def signal(s: Stack, tid: str, name: str, body: dict[str, Any]) -> None:
    """Send ``body`` as the signal ``name`` with Temporal's own command line, as anyone who
    reaches its port can."""
    subprocess.run(
        [find_binary("temporal"), "workflow", "signal", "--workflow-id", tid, "--name", name,
         "--input", json.dumps(body), "--address", f"{s.ip}:{s.port}"],
        capture_output=True, text=True, timeout=60, check=True,
    )


def refusals(s: Stack, tid: str) -> list[dict[str, Any]]:
    return [r for r in json.loads(s.ok("audit", tid, "--json")) if r["kind"] == "signal_refused"]


@pytest.mark.e2e
def test_a_refused_signed_command_sent_again_from_its_record_changes_nothing_and_a_retry_is_answered(
    tmp_path: Path,
):
    private, _ = new_key_pair()
    s = Stack(tmp_path, {"BPO_SIGNING_KEY": private})
    s.start_server()
    s.start_worker()
    try:
        tid = s.ok("start", str(short_plan(tmp_path)), "--id", "refused-replay").strip()
        family = s.history(tid)["events"][0]["workflowExecutionStartedEventAttributes"]["firstExecutionRunId"]
        # An integration relays Li's signed resume while the transition runs: refused, and recorded.
        from models.commands import Resume

        sent = Signer(private).sign(tid, Resume(by=LI, request_id="relayed-resume-1", via="api"), family)
        signal(s, tid, "resume", sent.model_dump(mode="json"))
        [row] = wait_until(lambda: refusals(s, tid))
        assert row["detail"]["refusal"] == "NotPaused" or "not paused" in row["detail"]["reason"], row

        s.ok("pause", tid, "--by", LI, "--reason", "client audit")
        assert s.status(tid)["state"] == "paused"

        # Someone who reads the audit row rebuilds the signed command and sends it again.
        material = {**row["detail"]["signed"]["fields"], "signature": row["signature"]}
        signal(s, tid, "resume", material)
        later = wait_until(lambda: refusals(s, tid)[1:])
        assert later, f"the refused command was taken from its record: {s.status(tid)['state']}"
        assert "refused at" in later[0]["detail"]["reason"] and "send it anew" in later[0]["detail"]["reason"]
        assert s.status(tid)["state"] == "paused"

        # The same request id from the command line is refused too, with what to do instead.
        again = s.bpo("resume", tid, "--by", LI, "--request-id", "relayed-resume-1")
        assert again.returncode == 2 and "without --request-id" in again.stderr, again.stderr
        # A person's retry is a new attempt with a new request id: answered.
        done = s.bpo("resume", tid, "--by", LI)
        assert done.returncode == 0, done.stderr
        assert s.status(tid)["state"] == "running"
        verified = s.bpo("audit", tid, "--verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr
    finally:
        s.stop()
