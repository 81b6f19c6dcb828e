"""Signed commands end to end: the real dev server and worker, `bpo` with a key, and a caller
who reaches Temporal's port without one (`temporal workflow update execute`)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from infra.binaries import find_binary
from models.commands import Approve
from models.signing import Signer, new_key_pair
from tests.stack import DANA, LI, RAJ, Stack, short_plan

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["sqlite", "postgresql"])
def signed(request, tmp_path: Path):
    """A stack whose `bpo` holds a signing key, the audit trail on SQLite or PostgreSQL."""
    private, _ = new_key_pair()
    extra = {"BPO_SIGNING_KEY": private}
    if request.param == "postgresql":
        extra["DATABASE_URL"] = request.getfixturevalue("postgres_url")
    stack = Stack(tmp_path, extra)
    stack.start_server()
    stack.start_worker()
    yield stack, Signer(private), request.param
    stack.stop()


def update(s: Stack, tid: str, name: str, command: dict) -> subprocess.CompletedProcess[str]:
    """An update straight to Temporal, as anyone who reaches its port could send it."""
    return subprocess.run(
        [
            find_binary("temporal"),
            *("workflow", "update", "execute", "--workflow-id", tid, "--name", name),
            *("--input", json.dumps(command), "--address", f"{s.ip}:{s.port}"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_only_commands_signed_for_this_transition_and_gate_are_taken(signed, tmp_path: Path):
    s, signer, backend = signed
    tid = s.ok("start", str(short_plan(tmp_path)), "--id", f"signed-{backend}").strip()
    other = s.ok("start", str(short_plan(tmp_path)), "--id", f"signed-other-{backend}").strip()

    unsigned = update(s, tid, "approve", {"gate": "gap_analysis_approved", "by": LI, "request_id": "u-1"})
    assert unsigned.returncode != 0 and "not signed by a trusted key" in unsigned.stderr + unsigned.stdout

    run, other_run = s.status(tid)["first_run_id"], s.status(other)["first_run_id"]
    for_other_gate = signer.sign(tid, Approve(gate="gap_analysis_approved", by=DANA, request_id="s-1"), run)
    moved = for_other_gate.model_copy(update={"gate": "slas_signed"}).model_dump(mode="json", exclude_none=True)
    assert "not signed by a trusted key" in (lambda d: d.stderr + d.stdout)(update(s, tid, "approve", moved))
    for_other_transition = signer.sign(other, Approve(gate="slas_signed", by=DANA, request_id="s-2"), other_run)
    copied = for_other_transition.model_dump(mode="json", exclude_none=True)
    assert "not signed by a trusted key" in (lambda d: d.stderr + d.stdout)(update(s, tid, "approve", copied))
    garbage = {"gate": "slas_signed", "by": DANA, "request_id": "s-3", "signature": "not base64!"}
    assert "not signed by a trusted key" in (lambda d: d.stderr + d.stdout)(update(s, tid, "approve", garbage))

    without_key = Stack(tmp_path, {k: v for k, v in s.env.items() if k != "BPO_SIGNING_KEY"})
    without_key.port, without_key.env["TEMPORAL_ADDRESS"] = s.port, s.env["TEMPORAL_ADDRESS"]
    refused = without_key.bpo("approve", tid, "gap_analysis_approved", "--by", LI)
    assert refused.returncode == 2 and "not signed by a trusted key" in refused.stderr
    assert "hint: this transition trusts signed commands only" in refused.stderr
    assert s.status(tid)["gates"][0]["status"] == "open"

    done = s.bpo("approve", tid, "gap_analysis_approved", "--by", LI)
    assert done.returncode == 0 and "gate gap_analysis_approved: passed" in done.stdout
    assert "request id: cli-" in done.stderr
    signed_by_hand = signer.sign(tid, Approve(gate="slas_signed", by=DANA, request_id="s-4"), run)
    assert update(s, tid, "approve", signed_by_hand.model_dump(mode="json", exclude_none=True)).returncode == 0
    s.ok("approve", tid, "slas_signed", "--by", RAJ)

    trail = json.loads(s.ok("audit", tid, "--json"))
    approved = [r for r in trail if r["kind"] == "approved"]
    assert [(r["actor"], r["via"], bool(r["signature"])) for r in approved] == [
        (LI, "cli", True),
        (DANA, None, True),
        (RAJ, "cli", True),
    ]
    assert f"{LI} (cli)" in s.ok("audit", tid)
    verified = s.bpo("audit", tid, "--verify")
    assert verified.returncode == 0 and f"verified {len(trail)} rows" in verified.stdout, verified.stderr
    assert "3 signatures hold" in verified.stdout

    edit = "UPDATE audit_record SET actor = 'mallory@evil.example' WHERE transition_id = :tid AND kind = 'approved'"
    if backend == "sqlite":
        with sqlite3.connect(tmp_path / "audit.db") as db:
            db.execute(edit.replace(":tid", "?"), (tid,))
    else:
        with create_engine(s.env["DATABASE_URL"]).begin() as connection:
            connection.execute(text(edit), {"tid": tid})
    broken = s.bpo("audit", tid, "--verify")
    first = next(r for r in sorted(trail, key=lambda r: r["position"]) if r["kind"] == "approved")
    assert broken.returncode == 1
    assert f"row {first['position']} (approved gap_analysis_approved) was altered" in broken.stderr


def test_a_key_of_the_wrong_length_or_not_base64_is_refused_before_anything_runs(tmp_path: Path):
    for name, value, message in [
        ("BPO_SIGNING_KEY", "c2hvcnQ=", "BPO_SIGNING_KEY has 5 bytes; an Ed25519 key has 32"),
        ("BPO_TRUSTED_KEYS", "not base64!", "a trusted key is not base64"),
    ]:
        done = Stack(tmp_path, {name: value}).bpo("start", str(short_plan(tmp_path)))
        assert done.returncode == 2 and message in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
