"""Killing the worker and the server mid-transition loses nothing."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.stack import DANA, LI, RAJ, Stack, short_plan

pytestmark = pytest.mark.e2e


def test_sigkill_of_worker_and_server_loses_no_accepted_decision(tmp_path: Path):
    s = Stack(tmp_path)
    s.start_server()
    s.start_worker()
    try:
        tid = s.ok("start", str(short_plan(tmp_path))).strip()
        s.ok("approve", tid, "gap_analysis_approved", "--by", LI)
        s.ok("approve", tid, "slas_signed", "--by", DANA)
        s.ok("tick", tid, "governance_defined", "raci", "--by", LI)
        before = s.status(tid)

        s.kill("worker")
        s.kill("server")
        s.start_server()
        s.start_worker()

        after = s.status(tid)
        assert after["gates"] == before["gates"]
        assert [d["kind"] for d in after["decisions"]] == ["approved", "approved", "ticked"]
        s.ok("approve", tid, "slas_signed", "--by", RAJ)
        for item in ("escalation_matrix", "communication_protocol", "knowledge_base"):
            s.ok("tick", tid, "governance_defined", item, "--by", LI)
        assert s.status(tid)["phase"] == "mobilization"

        # A kill with decisions in flight: the worker is gone while a decision is accepted.
        s.kill("worker")
        s.start_worker()
        s.ok("approve", tid, "kickoff_held", "--by", LI, "--evidence", "MIN-7")
        s.kill("server")
        s.start_server()
        status = s.ok("approve", tid, "kickoff_held", "--by", RAJ, "--evidence", "MIN-7")
        assert "knowledge_transfer" in status
        deadline = time.monotonic() + 30
        while True:  # the audit trail is written just after each decision is accepted
            kinds = [row["kind"] for row in json.loads(s.ok("audit", tid, "--json"))]
            if kinds.count("phase_passed") == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert (kinds.count("approved"), kinds.count("ticked"), kinds.count("phase_passed")) == (5, 4, 2)
    finally:
        s.stop()
