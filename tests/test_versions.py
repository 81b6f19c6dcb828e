"""The versioning seam: a rule asks `changed`, and the real workflow answers with `workflow.patched`.

A change of behaviour in the rules is simulated by wrapping one rule so that it asks whether the
change "probe-2027" applies. A transition started under the new code is told yes (and its history
keeps Temporal's marker for it); a history recorded before the change is told no when it replays,
and replays without a trace of non-determinism, which is what keeps running transitions running.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from workflows.rules import decisions, versions
from workflows.transition import TransitionWorkflow

CORPUS = Path(__file__).parent / "histories" / "reference-run-01.json"
CHANGE = "probe-2027"


@pytest.fixture
def answers(monkeypatch) -> list[bool]:
    """Make the approval rule ask the seam, as a changed rule would; what it was told, in order."""
    told: list[bool] = []
    approve = decisions.approve

    def asking(m, command, now, pin=None):
        told.append(m.changed(CHANGE))
        approve(m, command, now, pin)

    # The sandbox would re-import the rules and lose the wrapper, hence the unsandboxed runners.
    monkeypatch.setattr(decisions, "approve", asking)
    return told


async def test_a_recorded_history_replays_on_the_old_path_of_a_changed_rule(answers):
    history = WorkflowHistory.from_json("acme-simulated", CORPUS.read_text())
    replayer = Replayer(
        workflows=[TransitionWorkflow],
        data_converter=pydantic_data_converter,
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    await replayer.replay_workflow(history)
    assert answers and not any(answers)


async def test_a_new_transition_takes_the_new_path_and_records_it(answers, env, settings, reference_plan):
    from bpo.running import build_worker
    from tests.driver import LI, Driver

    with ThreadPoolExecutor(max_workers=2) as executor:
        async with httpx.AsyncClient() as http:
            async with build_worker(env.client, settings, http, executor, UnsandboxedWorkflowRunner()):
                t = await Driver.start(env, reference_plan, settings.task_queue)
                await t.approve("gap_analysis_approved", LI)
                history = await env.client.get_workflow_handle(t.id).fetch_history()
    assert answers == [True]
    markers = [e.marker_recorded_event_attributes for e in history.events]
    patches = [str(m.details) for m in markers if m.marker_name == "core_patch"]
    assert any(CHANGE in details for details in patches), patches
    # A run begun today records one marker, the newest epoch's, for every change released so far
    # (each marker is an event and an upsert of Temporal's change-version search attribute; a
    # change released after the epoch adds its own until the next epoch gathers it).
    ids = [
        json.loads(next(iter(m.details.values())).payloads[0].data)["id"]
        for m in markers
        if m.marker_name == "core_patch"
    ]
    assert sorted(ids) == sorted([versions.NEWEST, CHANGE]), ids
