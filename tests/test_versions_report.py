"""`bpo versions`: which old branches of the workflow the open transitions may still need.

The grouping is tested on recorded histories (runs begun before each run recorded its epoch),
and end to end: a transition started on the real dev server by today's worker shows under this
code's epoch, needing no old branch.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory

from bpo.commands.versions import BEFORE, RunSeen, group, patches_of_first_task, render, run_from_history
from tests.stack import DANA, Stack, short_plan, wait_until
from workflows.rules import versions

HISTORIES = Path(__file__).parent / "histories"


def seen(transition_id: str, path: str) -> RunSeen:
    """A run as `bpo versions` sees one with no epoch: what its history's first task marked."""
    history = WorkflowHistory.from_json(transition_id, (HISTORIES / path).read_text())
    return RunSeen(id=transition_id, run_id="r-" + transition_id, from_start=patches_of_first_task(history))


def test_a_run_without_an_epoch_may_need_every_old_branch_its_first_task_did_not_take():
    # Recorded on 2026-12-04 with signatures: its first task marked rules-2026-11 (standing for
    # sixteen changes) and signatures-bound, and nothing newer.
    old = seen("acme-signed", "2026-12-04-sigs/controls-run-01.json")
    new = RunSeen(id="acme-new", run_id="r-new", epoch=versions.NEWEST)
    report = group([new, old])

    assert [(e.label, e.transitions) for e in report.epochs] == [
        (versions.NEWEST, ["acme-new"]),
        (BEFORE, ["acme-signed"]),
    ]
    needed = {c.change: c.transitions for c in report.changes}
    assert list(needed) == list(versions.CHANGES)
    assert needed[versions.ROSTER_AUTHORITY] == []  # covered by the rules-2026-11 marker
    assert needed[versions.SIGNATURES_BOUND] == []  # marked by its first task
    assert needed[versions.EVIDENCE_PINNED] == ["acme-signed"]
    assert needed[versions.READINGS_STAND] == ["acme-signed"]
    assert needed[versions.RULES_EPOCH] == ["acme-signed"]
    by_id = {t.id: t for t in report.transitions}
    assert by_id["acme-new"].may_need == []
    assert "signatures-bound-2026-12" in by_id["acme-signed"].marked_at_start
    text = render(report)
    assert f"{BEFORE} (1): acme-signed" in text and re.search(r"evidence-pinned-2026-11 +1: acme-signed", text)


def test_a_run_begun_before_the_first_epoch_needs_all_but_the_changes_its_first_task_asked():
    oldest = seen("acme-oldest", "2026-11-24/reference-run-01.json")
    may_need = group([oldest]).transitions[0].may_need
    assert versions.FIXED_APPROVERS not in may_need
    assert versions.OUTBOX_FLUSH in may_need and versions.RULES_2026_11 in may_need


def test_a_run_recorded_since_the_epoch_memo_reads_as_begun_under_it():
    path = HISTORIES / "2026-12-05-epoch" / "controls-run-01.json"
    run = run_from_history("acme-controls", WorkflowHistory.from_json("acme-controls", path.read_text()))
    assert run.epoch == versions.RULES_EPOCH
    assert group([run]).transitions[0].may_need == list(
        versions.CHANGES[versions.CHANGES.index(versions.RULES_EPOCH) + 1 :]
    )
    before = run_from_history(
        "acme-old", WorkflowHistory.from_json("acme-old", (HISTORIES / "reference-run-01.json").read_text())
    )
    assert before.epoch is None


def test_a_memo_the_history_cannot_show_leaves_the_epoch_marker_to_go_by():
    path = HISTORIES / "2026-12-05-epoch" / "reference-run-01.json"
    history = WorkflowHistory.from_json("acme-encrypted", path.read_text())
    for event in history.events:  # as an encrypted memo reads: nothing this code can decode
        if event.HasField("workflow_properties_modified_event_attributes"):
            event.workflow_properties_modified_event_attributes.upserted_memo.fields["bpo_rules_epoch"].data = b"\x00"
    run = run_from_history("acme-encrypted", history)
    assert run.epoch == versions.RULES_EPOCH
    assert versions.OUTBOX_FLUSH not in group([run]).transitions[0].may_need


def test_an_epoch_this_code_does_not_know_counts_as_needing_every_old_branch():
    strange = RunSeen(id="acme-strange", epoch="rules-epoch-2099-01")
    report = group([strange])
    assert report.transitions[0].may_need == list(versions.CHANGES)
    assert all(c.needed_by == 1 for c in report.changes)


def test_an_epoch_needs_the_changes_released_after_it_only():
    run = RunSeen(id="acme-mid", epoch=versions.RULES_2026_11)
    may_need = group([run]).transitions[0].may_need
    assert may_need == list(versions.CHANGES[versions.CHANGES.index(versions.RULES_2026_11) + 1 :])


def test_every_change_id_is_listed_in_release_order_once():
    source = Path(versions.__file__).read_text()
    declared = {getattr(versions, name) for name in re.findall(r"^([A-Z_0-9]+) = \"", source, re.M)}
    assert set(versions.CHANGES) == declared, "append a new change id to versions.CHANGES"
    assert len(set(versions.CHANGES)) == len(versions.CHANGES) and versions.CHANGES[-1] == versions.NEWEST


@pytest.mark.e2e
def test_a_transition_started_today_shows_under_the_current_epoch(stack: Stack, tmp_path: Path):
    s = stack
    tid = s.ok("start", str(short_plan(tmp_path)), "--id", "acme-epoch").strip()
    ended = s.ok("start", str(short_plan(tmp_path)), "--id", "acme-ended").strip()
    s.ok("cancel", ended, "--by", DANA, "--reason", "a test of what is open")

    def listed() -> dict | None:
        report = json.loads(s.ok("versions", "--json"))
        ids = [t["id"] for t in report["transitions"]]
        return report if ids == [tid] and report["transitions"][0]["epoch"] else None

    report = wait_until(listed, timeout=30)
    assert report, s.ok("versions", "--json")
    assert report["newest"] == versions.NEWEST
    assert report["epochs"] == [
        {
            "epoch": versions.NEWEST,
            "label": versions.NEWEST,
            "transitions": [tid],
            "note": "needs no old branch of a change up to this one",
        }
    ]
    assert report["transitions"][0]["may_need"] == []
    assert all(c["needed_by"] == 0 for c in report["changes"])
    text = s.ok("versions")
    assert f"{versions.NEWEST} (1): {tid}" in text and "(no open transition)" in text
