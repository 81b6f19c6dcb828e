"""Attack on the running tail (issue 25, branch ``attack25c``): whoever reaches Temporal's port
grows any transition's history at will, writing nothing (a ``workstream_report`` signal to a
transition that is no program is taken, changes nothing, writes no row and starts no flush).
`bpo audit --verify` once read a grown history as a flush under way, so rows a database
administrator chained after the last head (a feed's reading, a gate passed: neither needs a
signature) passed as "written after it, moments ago", exit 0. Now only a head the transition
records vouches for a row: signalled or not, an idle transition's forged tail is exit 3."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from models.program import REPORT_SIGNAL, WorkstreamReport
from models.signing import new_key_pair
from tests.stack import LI, Stack, short_plan
from tests.test_audit_tail import append


async def signal_until(address: str, tid: str, stop: threading.Event) -> int:
    """Signals that write nothing, sent every 0.2 s until ``stop``: how many were sent."""
    client = await Client.connect(address, data_converter=pydantic_data_converter)
    handle = client.get_workflow_handle(tid)
    sent = 0
    while not stop.is_set():
        sent += 1
        await handle.signal(REPORT_SIGNAL, WorkstreamReport(key="nothing", seq=sent, state="running", phase="x"))
        await asyncio.sleep(0.2)
    return sent


@pytest.mark.e2e
def test_a_signal_that_writes_nothing_does_not_make_forged_tail_rows_pass(tmp_path: Path):
    private, _ = new_key_pair()
    s = Stack(tmp_path, {"BPO_SIGNING_KEY": private})
    s.start_server()
    s.start_worker()
    try:
        tid = s.ok("start", str(short_plan(tmp_path)), "--id", "grown").strip()
        s.verified(tid)  # its first flushes settle
        url = f"sqlite:///{tmp_path / 'audit.db'}"
        append(url, tid, "kpi_reading", actor=LI, via="feed", detail={"period": "2026-W49", "values": {"csat": 99}})
        stop, sent = threading.Event(), []
        signaller = threading.Thread(
            target=lambda: sent.append(asyncio.run(signal_until(s.env["TEMPORAL_ADDRESS"], tid, stop)))
        )
        signaller.start()
        try:
            signalled = s.bpo("audit", tid, "--verify")
        finally:
            stop.set()
            signaller.join()
        assert sent and sent[0] > 5  # the history grew all the while --verify read it
        assert signalled.returncode == 3, signalled.stdout + signalled.stderr
        assert "(kpi_reading) were written after the last head the transition recorded" in signalled.stderr
    finally:
        s.stop()
