"""A program of three workstreams on the real dev server, a real worker and the real `bpo`
command: the worker SIGKILLed while workstreams run, nothing lost, the program done once they
are; every workstream's audit trail verifies, relayed rows included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.stack import DANA, EVE, LI, Stack, wait_until

pytestmark = pytest.mark.e2e

PROGRAM_PLAN = Path(__file__).resolve().parent.parent / "examples" / "program-plan.yaml"


def lanes(status: dict) -> dict[str, str]:
    return {w["key"]: w["state"] for w in status["workstreams"]}


def trail_kinds(s: Stack, tid: str) -> list[str]:
    return [row["kind"] for row in json.loads(s.ok("audit", tid, "--json"))]


def through_pilot(s: Stack, tid: str, item: str, periods: tuple[str, str]) -> None:
    s.ok("tick", tid, "process_maps", item, "--by", EVE)
    for period in periods:
        s.ok("kpi", tid, "--by", LI, "--period", period, "csat=91", "aht=6.5")


def test_a_program_survives_a_killed_worker_and_completes_its_workstreams(tmp_path: Path):
    s = Stack(tmp_path)
    s.start_server()
    s.start_worker()
    try:
        pid = s.ok("start", str(PROGRAM_PLAN), "--id", "acme-contact-centre").strip()
        assert lanes(s.status(pid)) == {"email": "waiting", "chat": "waiting", "voice": "waiting"}
        s.ok("approve", pid, "contract_signed", "--by", DANA)
        s.wait_for(pid, lambda st: lanes(st)["email"] == lanes(st)["voice"] == "running")
        status = s.status(f"{pid}/email")
        assert (status["program"], status["phase"]) == (pid, "knowledge_transfer")

        through_pilot(s, f"{pid}/email", "email_support", ("W1", "W2"))
        s.kill("worker")  # chat is due to start, and email's report on its way
        s.start_worker()
        s.wait_for(pid, lambda st: lanes(st)["chat"] == "running")
        shown = s.ok("status", pid)
        for name in ("Tier-1 email support", "Live chat", "Inbound voice"):
            assert name in shown, shown
        listed = json.loads(s.ok("list", "--program", pid, "--json"))
        assert sorted(row["id"] for row in listed) == [f"{pid}/{k}" for k in ("chat", "email", "voice")]
        assert {row["program"] for row in listed} == {pid}
        s.ok("pause", pid, "--by", LI, "--reason", "year-end freeze")
        s.wait_for(f"{pid}/voice", lambda st: st["state"] == "paused")
        s.kill("worker")
        s.start_worker()
        s.ok("resume", pid, "--by", LI, "--reason", "freeze lifted")
        for tid in (f"{pid}/email", f"{pid}/chat", f"{pid}/voice"):  # each took the pause, then the resume
            assert wait_until(lambda tid=tid: "resumed" in trail_kinds(s, tid), 60), trail_kinds(s, tid)
            assert s.status(tid)["state"] == "running"

        through_pilot(s, f"{pid}/chat", "chat_support", ("W1", "W2"))
        through_pilot(s, f"{pid}/voice", "voice_support", ("W1", "W2"))
        for key in ("email", "chat", "voice"):
            s.ok("approve", f"{pid}/{key}", "hypercare_exit", "--by", DANA)
        status = s.wait_for(pid, lambda st: st["phase"] == "steady_state")
        assert lanes(status) == {"email": "completed", "chat": "completed", "voice": "completed"}

        # nothing lost: each workstream's trail holds its decisions, the relayed pause among them
        for key in ("email", "chat", "voice"):
            tid = f"{pid}/{key}"
            kinds = trail_kinds(s, tid)
            assert kinds.count("paused") == kinds.count("resumed") == 1, (key, kinds)
            assert "transition_completed" in kinds
            s.ok("audit", tid, "--verify")
        report = s.ok("report", pid)
        assert "Tier-1 email support" in report and "Inbound voice" in report
        program_rows = [r["kind"] for r in json.loads(s.ok("audit", pid, "--json"))]
        assert program_rows.count("workstream_started") == 3 and program_rows.count("workstream_completed") == 3
    finally:
        s.stop()
