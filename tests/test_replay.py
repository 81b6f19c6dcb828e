"""Replay guard: recorded histories of the reference plan must replay against today's code.

The histories in tests/histories/ (and its dated folders, from `make histories`) come from
`examples/simulate.py --history`: the whole reference transition (every gate kind, a rework, a
pause, escalations, waves) up to its first continue-as-new, the first steady-state run, and the
last; and, from 2026-11-24 on, a short "controls" transition (signed commands, a roster change, a
waiver, batch readings and a correction, signals, a notification refused for good, a cancel), a
transition on a business calendar, and one whose webhook is unreachable (notices carried across
a continue-as-new, given up, sent again). A
change that would break running transitions makes this test fail; see the README on
`workflow.patched`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from bpo.sandbox import SANDBOX
from workflows.transition import TransitionWorkflow

CORPUS = Path(__file__).parent / "histories"
HISTORIES = sorted(CORPUS.rglob("*.json"))


def test_the_corpus_covers_every_decision_and_a_continue_as_new():
    transition = (CORPUS / "reference-run-01.json").read_text()
    for update in ("approve", "tick", "reject", "pause", "resume", "record_readings"):
        assert f'"name": "{update}"' in transition, update
    assert "EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW" in transition
    assert len(HISTORIES) >= 3  # and steady-state runs after it


def test_the_corpus_covers_the_controls_signals_and_a_refused_notification():
    corpus = "".join(path.read_text() for path in CORPUS.rglob("controls-run-*.json"))
    for update in ("waive", "change_roster", "record_batch", "cancel", "delegate", "escalate"):
        assert f'"name": "{update}"' in corpus, update
    assert "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED" in corpus and "core_patch" in corpus


def test_the_corpus_covers_a_cost_recorded_against_a_business_case():
    corpus = "".join(path.read_text() for path in CORPUS.rglob("controls-run-*.json"))
    assert '"name": "cost"' in corpus


def test_the_corpus_covers_who_is_awaited_in_the_visibility_store():
    corpus = "".join(path.read_text() for path in CORPUS.rglob("*.json"))
    assert "BpoAwaiting" in corpus and "BpoPeople" in corpus and "BpoDue" in corpus


def test_the_corpus_covers_a_continue_as_new_with_notices_waiting_for_a_retry():
    from models.messages import StartTransition

    carried = []
    for path in CORPUS.rglob("pending-run-*.json"):
        history = WorkflowHistory.from_json("acme-pending", path.read_text())
        last = history.events[-1]
        if last.HasField("workflow_execution_continued_as_new_event_attributes"):
            payload = last.workflow_execution_continued_as_new_event_attributes.input.payloads[0]
            start = pydantic_data_converter.payload_converter.from_payload(payload, StartTransition)
            carried += start.state.pending if start.state else []
    assert carried, "no history continues as new with a notice waiting for its next try"


def test_every_change_behind_the_seam_has_a_history_that_took_its_new_branch():
    import base64
    import json
    import re

    from workflows.rules import versions

    # Asked only of an update without a request id, which every recorded client sends.
    unrecorded = {versions.UPDATE_ID_REQUESTS}
    corpus = "".join(path.read_text() for path in HISTORIES)
    source = Path(versions.__file__).read_text()
    changes = [getattr(versions, name) for name in re.findall(r"^([A-Z_]+) = \"", source, re.M)]

    def recorded(change: str) -> bool:
        return base64.b64encode(json.dumps(change).encode()).decode()[:-4] in corpus

    # A change an epoch covers was taken by every run that recorded the epoch's marker.
    covered = {change for epoch, changes in versions.COVERED.items() if recorded(epoch) for change in changes}
    missing = [change for change in changes if change not in unrecorded | covered and not recorded(change)]
    assert len(changes) >= 10 and not missing, f"record a history through {missing}: make histories"


def test_the_corpus_only_grows_every_committed_history_is_there_unchanged():
    # tests/replay-corpus.sha256 lists every history ever committed (paths under tests/histories);
    # `make histories` appends to it. A history changed or removed would stop proving that the
    # transitions it recorded still replay. (The list lives outside the corpus folder, which only
    # ever gains files.)
    sums = CORPUS.parent / "replay-corpus.sha256"
    listed = dict(line.split()[::-1] for line in sums.read_text().splitlines() if line.strip())
    for name, digest in listed.items():
        assert (CORPUS / name).exists(), f"{name} was removed from the replay corpus"
        assert hashlib.sha256((CORPUS / name).read_bytes()).hexdigest() == digest, f"{name} was changed"
    unlisted = {str(p.relative_to(CORPUS)) for p in HISTORIES} - listed.keys()
    assert not unlisted, f"add {sorted(unlisted)} to tests/replay-corpus.sha256 (make histories does)"


@pytest.mark.parametrize("path", HISTORIES, ids=[str(p.relative_to(CORPUS)) for p in HISTORIES])
async def test_recorded_history_replays_against_the_current_workflow(path: Path):
    history = WorkflowHistory.from_json("acme-simulated", path.read_text())
    gone = _needs_removed(history)
    if gone:  # kept in the corpus, which only grows; its old branch is retired (docs/upgrading.md)
        pytest.skip(f"needs the removed old branch of {', '.join(gone)}")
    replayer = Replayer(workflows=[TransitionWorkflow], data_converter=pydantic_data_converter, workflow_runner=SANDBOX)
    await replayer.replay_workflow(history)  # raises on any non-determinism


def _needs_removed(history: WorkflowHistory) -> list[str]:
    """The removed change ids whose old branch a recorded run may need, by `bpo versions`' rule."""
    from bpo.commands.versions import may_need, run_from_history
    from workflows.rules.versions import REMOVED

    return [change for change in may_need(run_from_history("recorded", history)) if change in REMOVED]


def test_a_history_needing_a_removed_branch_is_kept_and_skipped(monkeypatch):
    from workflows.rules import versions

    oldest = WorkflowHistory.from_json("acme-simulated", (CORPUS / "reference-run-01.json").read_text())
    newest = WorkflowHistory.from_json("acme-epoch", (CORPUS / "2026-12-05-epoch/reference-run-01.json").read_text())
    monkeypatch.setattr(versions, "REMOVED", frozenset({versions.EVIDENCE_PINNED}))
    assert _needs_removed(oldest) == [versions.EVIDENCE_PINNED]
    assert _needs_removed(newest) == []  # begun under rules-epoch-2026-12: took every branch before it


def test_the_corpus_covers_a_program_and_its_workstreams():
    program = "".join(path.read_text() for path in CORPUS.rglob("program-run-*.json"))
    streams = "".join(path.read_text() for path in CORPUS.rglob("program-*-run-*.json"))
    assert "EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED" in program and "read_workstream" in program
    assert '"signalName": "workstream_report"' in program
    assert '"signalName": "program_relay"' in streams and "EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED" in streams
