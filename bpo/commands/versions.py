"""`bpo versions`: the open transitions by the rules epoch they run on, and which old branches of
the workflow (the ``False`` side of each change id in `workflows.rules.versions`) they may still
need when they replay. An old branch is retired only once no open transition needs it
(docs/upgrading.md).

Why the epoch settles it: `workflow.patched` answers True whenever the code is not replaying, so a
run begun by code that knew a change takes its new branch everywhere; only a run begun by older
code may have recorded a stretch of history that replays on the old branch. Each run records the
newest change id its code knew (the memo `EPOCH_MEMO`, from `RULES_EPOCH` on). A run begun before
that carries no epoch: its history's patch markers say which changes it took from its first
workflow task (and so everywhere); it may need every other old branch.
"""

from __future__ import annotations

import argparse
import ast
import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from bpo.commands.common import client_for
from bpo.render import plain
from infra.settings import Settings
from models.constants import EPOCH_MEMO, WORKFLOW_NAME
from workflows.rules import versions

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from temporalio.api.common.v1 import Payload
    from temporalio.client import Client, WorkflowHistory

PATCH_MARKER = "core_patch"
"""The name Temporal's core SDK gives the marker `workflow.patched` records."""
BEFORE = f"begun before {versions.RULES_EPOCH}"
"""How a run that carries no epoch is grouped."""


class RunSeen(BaseModel):
    """What is known of one open transition's current run."""

    model_config = ConfigDict(frozen=True)

    id: str
    run_id: str = ""
    epoch: str | None = Field(default=None, description="the epoch its memo records, if any")
    from_start: frozenset[str] = Field(
        default=frozenset(), description="patch ids marked by its first workflow task (runs with no epoch)"
    )


class Epoch(BaseModel):
    """Open transitions begun under one rules epoch (or before epochs were recorded)."""

    epoch: str | None
    label: str
    transitions: list[str]
    note: str


class ChangeNeed(BaseModel):
    """One change id, and the open transitions that may still replay on its old branch."""

    change: str
    about: str
    needed_by: int
    transitions: list[str]


class Transition(BaseModel):
    """One open transition: its current run, its epoch, and the old branches it may need."""

    id: str
    run_id: str
    epoch: str | None
    marked_at_start: list[str] = Field(description="for a run with no epoch: the patch ids its first task marked")
    may_need: list[str]


class VersionsReport(BaseModel):
    """What `bpo versions --json` prints."""

    newest: str
    epochs: list[Epoch]
    changes: list[ChangeNeed]
    transitions: list[Transition]


class _Memo(BaseModel):
    """The epoch memo as read back: anything else is treated as no epoch at all."""

    epoch: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9-]+$")


@cache
def about(change: str) -> str:
    """The first sentence of a change id's docstring in `workflows.rules.versions`."""
    tree = ast.parse(Path(versions.__file__).read_text())
    for node, after in zip(tree.body, tree.body[1:], strict=False):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and node.value.value == change
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            paragraph = " ".join(after.value.value.strip().split("\n\n")[0].split())
            return paragraph.split(". ")[0].removesuffix(".") + "."
    return ""


def taken_from_start(run: RunSeen) -> frozenset[str]:
    """The change ids a run took from its first workflow task, and so on every path.

    A run with an epoch knew every change up to it (changes are released in `CHANGES` order); a
    run without one took what its first task marked, and what an epoch it marked there covers.
    An epoch this code does not know counts for nothing: such a run is treated as the oldest.
    """
    if run.epoch is not None:
        if run.epoch not in versions.CHANGES:
            return frozenset()
        return frozenset(versions.CHANGES[: versions.CHANGES.index(run.epoch) + 1])
    covered = {change for epoch in run.from_start for change in versions.COVERED.get(epoch, ())}
    return run.from_start | covered


def may_need(run: RunSeen) -> list[str]:
    """The change ids whose old branch this run may need when it replays, oldest first."""
    taken = taken_from_start(run)
    return [change for change in versions.CHANGES if change not in taken]


def group(runs: list[RunSeen]) -> VersionsReport:
    """The open transitions by epoch, and for each change id (in release order) those that may
    still need its old branch."""
    epochs: dict[str | None, list[str]] = {}
    for run in sorted(runs, key=lambda r: r.id):
        epochs.setdefault(run.epoch, []).append(run.id)
    ordered = sorted(epochs, key=lambda e: versions.CHANGES.index(e) if e in versions.CHANGES else -1, reverse=True)
    listed = []
    for epoch in ordered:
        if epoch is None:
            label, note = BEFORE, "may need every older branch but those its first task marked"
        elif epoch in versions.CHANGES:
            label, note = epoch, "needs no old branch of a change up to this one"
        else:
            label, note = epoch, "an epoch this bpo does not know: counted as needing every old branch"
        listed.append(Epoch(epoch=epoch, label=label, transitions=epochs[epoch], note=note))
    needs = {run.id: set(may_need(run)) for run in runs}
    changes = []
    for change in versions.CHANGES:
        ids = sorted(tid for tid, needed in needs.items() if change in needed)
        changes.append(ChangeNeed(change=change, about=about(change), needed_by=len(ids), transitions=ids))
    transitions = [
        Transition(
            id=run.id,
            run_id=run.run_id,
            epoch=run.epoch,
            marked_at_start=sorted(run.from_start),
            may_need=[c for c in versions.CHANGES if c in needs[run.id]],
        )
        for run in sorted(runs, key=lambda r: r.id)
    ]
    return VersionsReport(newest=versions.NEWEST, epochs=listed, changes=changes, transitions=transitions)


def patches_of_first_task(history: WorkflowHistory) -> frozenset[str]:
    """The patch ids `workflow.patched` marked in a run's first completed workflow task.

    A task's commands are written with its completion, as one batch right after it, and the next
    task is scheduled after them: the markers between the two are the first task's.
    """
    found: set[str] = set()
    completed = False
    for event in history.events:
        if event.HasField("workflow_task_completed_event_attributes"):
            completed = True
        elif completed and event.HasField("workflow_task_scheduled_event_attributes"):
            break
        elif completed and event.HasField("marker_recorded_event_attributes"):
            marker = event.marker_recorded_event_attributes
            if marker.marker_name == PATCH_MARKER and "patch-data" in marker.details:
                found.update(_patch_ids(marker.details["patch-data"].payloads))
    return frozenset(found)


def recorded_epoch(history: WorkflowHistory) -> str | None:
    """The epoch a run's first task wrote to its memo, read from its history (an unencrypted
    one, as the replay corpus is); None when it wrote none."""
    completed = False
    for event in history.events:
        if event.HasField("workflow_task_completed_event_attributes"):
            completed = True
        elif completed and event.HasField("workflow_task_scheduled_event_attributes"):
            return None
        elif completed and event.HasField("workflow_properties_modified_event_attributes"):
            memo = event.workflow_properties_modified_event_attributes.upserted_memo.fields
            if EPOCH_MEMO in memo:
                try:
                    return _Memo(epoch=json.loads(memo[EPOCH_MEMO].data)).epoch
                except ValueError:  # encrypted, or not the workflow's own: no epoch to go by
                    return None
    return None


def run_from_history(transition_id: str, history: WorkflowHistory, run_id: str = "") -> RunSeen:
    """A run as `bpo versions` sees it from its history alone (the replay corpus, or a run whose
    memo the visibility store does not show yet). A memo the history cannot show (encrypted)
    still leaves the marker of `RULES_EPOCH`, or of an epoch that covers it (a run begun since
    ``rules-2026-12`` marks that alone): the run knew at least every change up to it."""
    marked = patches_of_first_task(history)
    epoch = recorded_epoch(history) or _epoch_marked(marked)
    return RunSeen(id=transition_id, run_id=run_id, epoch=epoch, from_start=frozenset() if epoch else marked)


def _epoch_marked(marked: frozenset[str]) -> str | None:
    """The newest of ``marked`` that stands for `RULES_EPOCH` (itself, or an epoch covering it)."""
    epochs = [c for c in versions.CHANGES if c in marked and versions.RULES_EPOCH in {c, *versions.COVERED.get(c, ())}]
    return epochs[-1] if epochs else None


def _patch_ids(payloads: Iterable[Payload]) -> Iterator[str]:
    for payload in payloads:
        try:
            patch = json.loads(payload.data)
        except ValueError:  # not the SDK's JSON: says nothing we could rely on
            continue
        if isinstance(patch, dict) and isinstance(patch.get("id"), str):
            yield patch["id"]


async def open_runs(client: Client) -> list[RunSeen]:
    """Every open transition's current run: its epoch from the memo, or else what its first task
    marked, read from its history."""
    runs = []
    query = f"WorkflowType = '{WORKFLOW_NAME}' AND ExecutionStatus = 'Running'"
    async for wf in client.list_workflows(query):
        try:
            epoch: str | None = _Memo(epoch=await wf.memo_value(EPOCH_MEMO, None)).epoch
        except Exception:  # no memo, or one the workflow did not write: no epoch to go by
            epoch = None
        if epoch is None:
            history = await client.get_workflow_handle(wf.id, run_id=wf.run_id).fetch_history()
            runs.append(run_from_history(wf.id, history, wf.run_id))
        else:
            runs.append(RunSeen(id=wf.id, run_id=wf.run_id, epoch=epoch))
    return runs


def render(report: VersionsReport) -> str:
    """The report for a person: the epochs, then each change id with what still needs it."""
    lines = [
        f"This code's rules epoch: {report.newest}",
        "",
        "Open transitions by the rules epoch they were begun under:",
    ]
    if not report.epochs:
        lines.append("  none open")
    for epoch in report.epochs:
        # Ids and labels come from whoever started a transition: shown, never obeyed, on a terminal.
        lines.append(f"  {plain(epoch.label)} ({len(epoch.transitions)}): {plain(', '.join(epoch.transitions))}")
        lines.append(f"    {epoch.note}")
    lines += ["", "Change ids, oldest first; open transitions that may still need the old branch:"]
    width = max(len(c.change) for c in report.changes)
    for change in report.changes:
        who = f": {plain(', '.join(change.transitions))}" if change.transitions else " (no open transition)"
        lines.append(f"  {change.change:<{width}}  {change.needed_by}{who}")
        lines.append(f"  {'':<{width}}  {change.about}")
    return "\n".join(lines)


async def cmd_versions(args: argparse.Namespace, settings: Settings) -> None:
    """The open transitions by rules epoch, and which old branches they may still need."""
    client = await client_for(settings)
    report = group(await open_runs(client))
    print(report.model_dump_json(indent=2) if args.json else render(report))
