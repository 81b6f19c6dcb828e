"""No transition without keys by accident, a signed start, and keys that rotate: `bpo` against the
real dev server and worker, and a start sent straight to Temporal on the time-skipping server."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from temporalio.client import WorkflowFailureError

from bpo.api import NO_KEY, BpoError, start_transition
from models.constants import WORKFLOW_NAME
from models.messages import StartTransition
from models.signing import Signer, fingerprint, new_key_pair
from tests.stack import LI, Stack, short_plan


async def test_a_start_that_names_keys_but_no_one_signed_fails_and_writes_nothing(env, worker, settings, reference_plan):
    private, public = new_key_pair()
    with pytest.raises(BpoError) as caught:
        await start_transition(env.client, reference_plan, task_queue=settings.task_queue, allow_unsigned=False)
    assert str(caught.value) == NO_KEY
    with pytest.raises(BpoError) as caught:  # the starter's key must be one the transition trusts
        await start_transition(
            env.client, reference_plan, task_queue=settings.task_queue, trusted_keys=[public],
            signer=Signer(new_key_pair()[0]),
        )
    assert "signed by a key the transition trusts" in str(caught.value)
    tid = f"t-{uuid.uuid4().hex[:8]}"
    start = StartTransition(id=tid, plan=reference_plan, trusted_keys=[public], started_by="mallory")
    handle = await env.client.start_workflow(WORKFLOW_NAME, start, id=tid, task_queue=settings.task_queue)
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    assert "the start is not signed by a key the transition trusts" in str(failed.value.cause)


@pytest.mark.e2e
def test_bpo_start_refuses_a_keyless_transition_records_who_started_and_keys_rotate(tmp_path: Path):
    old_private, old_public = new_key_pair()
    new_private, new_public = new_key_pair()
    s = Stack(tmp_path, {"BPO_SIGNING_KEY": old_private})
    s.start_server()
    s.start_worker()
    try:
        bare = {k: v for k, v in s.env.items() if k not in ("BPO_SIGNING_KEY", "BPO_ALLOW_UNSIGNED")}
        keyless = Stack(tmp_path, bare)
        keyless.env = bare
        refused = keyless.bpo("start", str(short_plan(tmp_path)), "--id", "keyless")
        assert refused.returncode == 2 and NO_KEY in refused.stderr, refused.stderr
        keyless.env = {**bare, "BPO_ALLOW_UNSIGNED": "1"}
        assert keyless.bpo("start", str(short_plan(tmp_path)), "--id", "trial").returncode == 0

        tid = s.ok("start", str(short_plan(tmp_path)), "--id", "keyed").strip()
        status = s.status(tid)
        assert (status["started_by"], status["trusted_keys"]) == ("e2e-operator", [fingerprint(old_public)])
        assert "Started by e2e-operator; commands signed by" in s.ok("status", tid)

        rotated = s.bpo("keys", "rotate", tid, "--add", new_public, "--remove", old_public)
        assert rotated.returncode == 0 and fingerprint(new_public) in rotated.stdout, rotated.stderr
        assert s.status(tid)["trusted_keys"] == [fingerprint(new_public)]
        stale = s.bpo("approve", tid, "gap_analysis_approved", "--by", LI)
        assert stale.returncode == 2 and "not signed by a trusted key" in stale.stderr
        s.env["BPO_SIGNING_KEY"] = new_private
        done = s.bpo("approve", tid, "gap_analysis_approved", "--by", LI)
        assert done.returncode == 0 and "gate gap_analysis_approved: passed" in done.stdout, done.stderr

        trail = json.loads(s.ok("audit", tid, "--json"))
        started = next(r for r in trail if r["kind"] == "transition_started")
        assert started["detail"]["started_by"] == "e2e-operator"
        [keys] = [r for r in trail if r["kind"] == "keys_rotated"]
        assert keys["detail"]["removed"] == [fingerprint(old_public)] and keys["signature"]
        verified = s.bpo("audit", tid, "--verify")
        assert verified.returncode == 0 and "2 signatures hold" in verified.stdout, verified.stdout + verified.stderr
    finally:
        s.stop()
