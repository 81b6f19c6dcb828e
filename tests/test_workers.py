"""Several workers on one task queue: both take work, and when one dies the other finishes it all.

Also checks a worker's health endpoint and Prometheus metrics, engine counters included.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from tests.stack import LI, RAJ, Stack, free_port, short_plan

pytestmark = pytest.mark.e2e


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_two_workers_share_the_work_and_one_finishes_when_the_other_is_killed(tmp_path: Path):
    metrics, health = free_port(), free_port()
    s = Stack(tmp_path, {"BPO_METRICS_PORT": str(metrics), "BPO_HEALTH_PORT": str(health)})
    s.start_server()
    s.start_worker()
    first = s.worker
    s.env = {**s.env, "BPO_METRICS_PORT": "", "BPO_HEALTH_PORT": ""}
    s.start_worker()
    second = s.worker
    assert first is not None and second is not None
    try:
        plan = str(short_plan(tmp_path))
        ids = [s.ok("start", plan, "--id", f"acme-{n}").strip() for n in range(8)]
        for tid in ids:
            s.ok("approve", tid, "gap_analysis_approved", "--by", LI)
        identities = set()
        for tid in ids:
            for event in s.history(tid)["events"]:
                attributes = event.get("workflowTaskStartedEventAttributes")
                if attributes:
                    identities.add(attributes["identity"].split("@")[0])
        assert {str(first.pid), str(second.pid)} <= identities, identities

        status, body = get(f"http://127.0.0.1:{health}/healthz")
        assert status == 200 and json.loads(body)["status"] == "ok"
        _, exported = get(f"http://127.0.0.1:{metrics}/metrics")
        assert "temporal_workflow_task_execution_latency" in exported
        print(sorted({line.split("{")[0] for line in exported.splitlines() if line.startswith("bpo_")}))

        s.worker = first
        s.kill("worker")  # the one with the endpoints; the second goes on alone
        s.worker = second
        for tid in ids:
            s.ok("approve", tid, "slas_signed", "--by", "dana@acme.example")
            s.ok("approve", tid, "slas_signed", "--by", RAJ)
            for item in ("raci", "escalation_matrix", "communication_protocol", "knowledge_base"):
                s.ok("tick", tid, "governance_defined", item, "--by", LI)
        for tid in ids:
            assert s.wait_for(tid, lambda st: st["phase"] == "mobilization")["phase"] == "mobilization"
        second.terminate()  # SIGTERM: a graceful stop
        assert second.wait(timeout=30) == 0
    finally:
        s.stop()
