"""Secrets stay with the worker: a token in the webhook URL and the SMTP password appear nowhere
in Temporal (history, the plan query), whatever the plan says."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from infra.binaries import find_binary
from tests.receivers import smtp_receiver, webhook_receiver
from tests.stack import LI, Stack, short_plan

pytestmark = pytest.mark.e2e
TOKEN, PASSWORD = "T0KEN-4242", "PASSW0RD-4242"


def temporal(s: Stack, *args: str) -> str:
    done = subprocess.run(
        [find_binary("temporal"), *args, "--address", f"{s.ip}:{s.port}", "--output", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_no_secret_a_channel_uses_enters_temporal(tmp_path: Path):
    with webhook_receiver() as (hook, received), smtp_receiver() as (smtp, _):
        s = Stack(
            tmp_path,
            {"BPO_WEBHOOK_URL": f"{hook}?token={TOKEN}", "BPO_SMTP_URL": smtp.replace("smtp://", f"smtp://bpo:{PASSWORD}@")},
        )
        s.start_server()
        s.start_worker()
        try:
            tid = s.ok("start", str(short_plan(tmp_path)), "--id", "secrets").strip()
            s.ok("approve", tid, "gap_analysis_approved", "--by", LI)
            s.wait_for(tid, lambda _: any(r["body"]["kind"] == "phase_started" for r in received))
            for _ in range(100):  # the email's failure is audited a moment after it happens
                trail = s.ok("audit", tid, "--json")
                if '"notification_failed"' in trail:
                    break
                time.sleep(0.2)
            shown = temporal(s, "workflow", "show", "--workflow-id", tid)
            plan = temporal(s, "workflow", "query", "--workflow-id", tid, "--name", "plan")
        finally:
            s.stop()
    assert "${BPO_WEBHOOK_URL}" in plan and "${BPO_SMTP_URL}" in plan
    for text in (shown, plan, trail):
        assert TOKEN not in text and PASSWORD not in text
    failed = [r["detail"]["error"] for r in json.loads(trail) if r["kind"] == "notification_failed"]
    assert failed and all("STARTTLS" in error for error in failed)

    # `bpo notices` reads the same trail: every delivery, or only the failed ones.
    every = json.loads(s.ok("notices", tid, "--json"))
    assert {(d["channel"], d["state"]) for d in every} >= {("webhook", "sent"), ("email", "failed")}
    only_failed = json.loads(s.ok("notices", tid, "--failed", "--json"))
    assert only_failed and {d["channel"] for d in only_failed} == {"email"}
    assert all(d["about"] and d["subject"] and "STARTTLS" in d["error"] for d in only_failed)
    assert "failed" in s.ok("notices", tid, "--failed")
