"""Attack 40, on run-key-hashed-2026-12 (6a56b3d): no path makes another run key mid-life (a history
replays with the key its run made), a transition started again within seconds writes and sends
its own rows, and a run key of decimal digits is not read as the sequence."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import (
    Interceptor,
    Replayer,
    StartLocalActivityInput,
    UnsandboxedWorkflowRunner,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

from bpo.api import start_transition
from infra.audit import _seq, read_trail, record_entries
from infra.db import make_engine
from models.commands import Cancel
from models.deliveries import AuditEntry
from tests.conftest import running_worker
from tests.driver import DANA, Driver
from tests.receivers import webhook_receiver
from tests.test_identity import trail
from workflows.rules import versions
from workflows.rules.machine import run_key_of
from workflows.transition import TransitionWorkflow

CORPUS = Path(__file__).parent / "histories"
HISTORIES = sorted(CORPUS.rglob("*.json"))
SEEN: list[str] = []


class _Out(WorkflowOutboundInterceptor):
    def start_local_activity(self, input: StartLocalActivityInput) -> Any:
        for arg in input.args:
            for entry in getattr(arg, "audit", None) or getattr(arg, "entries", None) or []:
                SEEN.append(entry.id)
            for d in getattr(arg, "deliveries", None) or []:
                SEEN.append(d.notice.id)
            if getattr(arg, "notice", None) is not None:
                SEEN.append(arg.notice.id)
        return super().start_local_activity(input)


class _In(WorkflowInboundInterceptor):
    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(_Out(outbound))


class Capture(Interceptor):
    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput) -> type[WorkflowInboundInterceptor]:
        return _In


def _b64(change: str) -> str:
    import base64

    return base64.b64encode(json.dumps(change).encode()).decode()[:-4]


@pytest.mark.parametrize("path", HISTORIES, ids=[str(p.relative_to(CORPUS)) for p in HISTORIES])
async def test_replay_makes_the_run_key_the_recorded_run_made(path: Path):
    """Every id the replaying code hands its flush carries one run key, the one its family was
    started with: first digits before the change, the hash after; never the other."""
    text = path.read_text()
    history = WorkflowHistory.from_json("acme-replayed", text)
    started = history.events[0].workflow_execution_started_event_attributes
    first = started.first_execution_run_id
    tid = history.workflow_id
    SEEN.clear()
    replayer = Replayer(
        workflows=[TransitionWorkflow],
        data_converter=pydantic_data_converter,
        workflow_runner=UnsandboxedWorkflowRunner(),
        interceptors=[Capture()],
    )
    await replayer.replay_workflow(history)
    if not SEEN:
        pytest.skip("no audit entry or notice handed to an activity")
    # the transition id is the start's (workflow id in file names is made up)
    from models.messages import StartTransition

    [start] = await pydantic_data_converter.decode(started.input.payloads, [StartTransition])
    tid = start.id
    keys = {i[len(tid) + 1 :].split("/")[0] for i in SEEN}
    hashed = _b64(versions.RUN_KEY_HASHED) in text or _b64(versions.RULES_2026_12E) in text
    if start.state is not None:  # continued as new: the key its family carried
        assert keys <= {start.state.run_key} or start.state.run_key is None, (keys, start.state.run_key)
        if start.state.run_key:
            assert start.state.run_key in (first[:8], hashlib.sha256(first.encode()).hexdigest()[:8])
        return
    if not any(k for k in keys if not k.isdigit()):
        return  # ids without a run key (before run-scoped-ids)
    want = hashlib.sha256(first.encode()).hexdigest()[:8] if hashed else first[:8]
    assert keys == {want}, (keys, want, first)


# --- the real dev server: cancel, start again under the id within seconds ------------------------


async def test_a_transition_started_again_within_seconds_writes_and_sends_its_own_rows(dev, settings, reference_plan):
    with webhook_receiver() as (url, received):
        ours = settings.model_copy(update={"webhook_url": url})
        async with running_worker(dev, ours):
            tid = f"t-{uuid.uuid4().hex[:8]}"
            await start_transition(dev.client, reference_plan, task_queue=ours.task_queue, transition_id=tid)
            first = (await dev.client.get_workflow_handle(tid).describe()).run_id
            await Driver(dev, dev.client, tid).do(Cancel(by=DANA, reason="wrong plan"))
            await dev.client.get_workflow_handle(tid).result()
            sent_first = await trail(ours, tid, lambda rows: any("cancel" in r.kind for r in rows), 20)
            hooks_before = len(received)
            await start_transition(
                dev.client, reference_plan, task_queue=ours.task_queue, transition_id=tid, replace_ended=True
            )
            second = (await dev.client.get_workflow_handle(tid).describe()).run_id
            assert first[:8] == second[:8], "the dev server's run ids are time-ordered: the old key would collide"
            k1, k2 = run_key_of(first), run_key_of(second)
            assert k1 != k2
            rows = await trail(ours, tid, lambda rows: sum(r.kind == "transition_started" for r in rows) == 2, 20)
            starts = [r.event_id for r in rows if r.kind == "transition_started"]
            assert starts == [f"{tid}/{k1}/1", f"{tid}/{k2}/1"], starts
            # the second run's notices are sent, under its own ids
            await trail(
                ours, tid, lambda rows: any(r.kind == "notification_sent" and f"/{k2}/" in r.event_id for r in rows), 20
            )
            for _ in range(100):
                if any(f"/{k2}/" in str(h["body"].get("id", "")) for h in received[hooks_before:]):
                    break
                await asyncio.sleep(0.2)
            second_ids = [h["body"].get("id") for h in received[hooks_before:]]
            assert second_ids and all(f"{tid}/{k2}/" in str(i) for i in second_ids), second_ids
            first_ids = {h["body"].get("id") for h in received[:hooks_before]}
            assert not first_ids & set(second_ids)
            assert sent_first


# --- the trail's order: a run key of decimal digits is read as the sequence -----------------------

# A version 7 run id as the dev server hands them out; 8 hex digits of its hash are all decimal
# digits (as for 1 run in 43). The first 8 digits of such ids ("01a2...") never were, in 2026.
DIGITS_RUN = "01a24ac5-a04e-7abc-8def-0000000007c7"


def test_a_run_key_of_decimal_digits_is_not_read_as_the_sequence():
    key = run_key_of(DIGITS_RUN)
    assert key.isdigit()
    assert _seq(f"t1/{key}/3", "t1") == 3, "the run key was taken for the entry's sequence"
    assert _seq(f"t1/{key}/3/webhook", "t1") == 3


@pytest.mark.parametrize("key", ["0a1b2c3d", "49996753"])
def test_rows_of_one_moment_read_back_in_sequence_whatever_the_run_key(tmp_path: Path, key: str):
    engine = make_engine(f"sqlite:///{tmp_path}/audit.db")
    at = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)

    def entry(seq: int, kind: str) -> AuditEntry:
        return AuditEntry(id=f"t1/{key}/{seq}", transition_id="t1", kind=kind, phase="planning", at=at)

    # written in two flushes, the later sequence first (a write carried to a later flush; or
    # simply PostgreSQL, which returns rows of one `at` in no order): read_trail sorts by sequence
    record_entries(engine, [entry(2, "gate_passed")])
    record_entries(engine, [entry(1, "approved")])
    with Session(engine) as session:
        kinds = [r.kind for r in read_trail("t1", session=session)]
    assert kinds == ["approved", "gate_passed"], kinds
