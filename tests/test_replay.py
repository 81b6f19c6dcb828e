"""Replay guard: recorded histories of the reference plan must replay against today's code.

The histories in tests/histories/ (and its dated folders, from `make histories`) come from
`examples/simulate.py --history`:
the whole transition (every gate kind, a rework, a pause, escalations, waves) up to its first
continue-as-new, the first steady-state run, and the last. A change that would break running
transitions makes this test fail; see the README on `workflow.patched`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from worker import SANDBOX
from workflows.transition import TransitionWorkflow

CORPUS = Path(__file__).parent / "histories"
HISTORIES = sorted(CORPUS.rglob("*.json"))


def test_the_corpus_covers_every_decision_and_a_continue_as_new():
    transition = (CORPUS / "reference-run-01.json").read_text()
    for update in ("approve", "tick", "reject", "pause", "resume", "record_readings"):
        assert f'"name": "{update}"' in transition, update
    assert "EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW" in transition
    assert len(HISTORIES) >= 3  # and steady-state runs after it


@pytest.mark.parametrize("path", HISTORIES, ids=[str(p.relative_to(CORPUS)) for p in HISTORIES])
async def test_recorded_history_replays_against_the_current_workflow(path: Path):
    history = WorkflowHistory.from_json("acme-simulated", path.read_text())
    replayer = Replayer(workflows=[TransitionWorkflow], data_converter=pydantic_data_converter, workflow_runner=SANDBOX)
    await replayer.replay_workflow(history)  # raises on any non-determinism
