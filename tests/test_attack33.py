"""Attacks on the four changes after ec6aa05 (issue 33's outsider): the rules epoch
``rules-2026-12`` as ``bpo versions`` reads it, the outbox flush's one read of what an earlier try
left, and ``make bench``'s rounds. Each test is what an operator would notice."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory

from activities.audit_writer import _pools
from bench.options import options
from bpo.commands.versions import BEFORE, group, render, run_from_history
from infra.db import make_engine
from models.constants import EPOCH_MEMO, login_key
from tests.stack import Stack, short_plan, wait_until
from tests.test_audit_collisions import entry
from tests.test_audit_writer import flush, outbox
from tests.test_flush_marks import escalation
from workflows.rules import versions

HISTORIES = Path(__file__).parent / "histories"


# --- 1. `bpo versions` and the epoch rules-2026-12 ---------------------------------------------


def test_a_run_begun_today_whose_memo_cannot_be_read_is_not_listed_as_begun_before_the_epochs():
    """`bpo versions` reads a run's history when the visibility store does not show its memo (not
    yet, or encrypted with a key this machine lacks). A run begun on this code marks only
    rules-2026-12 (no longer rules-epoch-2026-12, which it covers): it must not be listed as
    "begun before rules-epoch-2026-12, may need every older branch"."""
    path = HISTORIES / "2026-12-05-rules-2026-12" / "reference-run-01.json"
    history = WorkflowHistory.from_json("acme-encrypted", path.read_text())
    for event in history.events:  # as an encrypted memo reads: nothing this code can decode
        if event.HasField("workflow_properties_modified_event_attributes"):
            event.workflow_properties_modified_event_attributes.upserted_memo.fields[EPOCH_MEMO].data = b"\x00"
    run = run_from_history("acme-encrypted", history)
    report = group([run])
    assert [e.label for e in report.epochs] == [versions.RULES_2026_12], render(report)
    assert BEFORE not in render(report)
    # Only what came after the code it was begun on (flush-yields and the epoch that covers it).
    assert report.transitions[0].may_need == list(
        versions.CHANGES[versions.CHANGES.index(versions.RULES_2026_12) + 1 :]
    )


@pytest.mark.e2e
def test_bpo_versions_without_the_key_lists_a_transition_started_today_under_todays_epoch(tmp_path: Path):
    """An operator runs `bpo versions` where the deployment's encryption key is not (it reads
    no payload it needs to show): the memo is encrypted, so it reads the run's history, whose first
    task marked rules-2026-12 only. The transition was begun today: it needs no old branch, and
    must not be listed as begun before the epochs, needing every older one (its first task marks
    today's newest epoch, rules-2026-12b since the change after rules-2026-12)."""
    key = base64.b64encode(bytes(range(32))).decode()
    s = Stack(tmp_path, {"BPO_ENCRYPTION_KEY": key})
    s.start_server()
    s.start_worker()
    try:
        tid = s.ok("start", str(short_plan(tmp_path))).strip()
        assert wait_until(lambda: s.bpo("status", tid, "--json").returncode == 0, timeout=30)
        del s.env["BPO_ENCRYPTION_KEY"]
        report = wait_until(lambda: (r := json.loads(s.ok("versions", "--json")))["transitions"] and r, timeout=30)
        text = s.ok("versions")
    finally:
        s.stop()
    assert report, "bpo versions without the key never listed the transition"
    assert [t["id"] for t in report["transitions"]] == [tid]
    assert report["transitions"][0]["epoch"] == versions.NEWEST
    assert report["transitions"][0]["may_need"] == []
    assert BEFORE not in text, text


# --- 2. the outbox flush's one read of an earlier try ------------------------------------------


async def test_a_flush_tried_again_after_its_writing_process_died_does_not_send_the_notice_twice(tmp_path: Path):
    """A writing process that dies (killed, or by the kernel for memory) leaves a broken pool
    that the next call meets. When that call is a flush tried again (same value, same notice),
    the notice its earlier try sent and audited must not go out a second time: before the read
    moved into the writing process, the sent rows were read in the worker and it did not."""
    engine = make_engine(f"sqlite:///{tmp_path}/audit.db")
    box = outbox(engine)
    first = await flush(box, entry(1, "transition_started"), deliveries=[escalation()])
    assert first.outcomes[0].status == "sent" and box.notify.sends == 1
    for pool in list(_pools.values()):
        for process in list(pool._processes.values()):  # type: ignore[attr-defined]
            os.kill(process.pid, signal.SIGKILL)
    again = await flush(box, entry(1, "transition_started"), deliveries=[escalation()])
    assert again.outcomes[0].status == "sent"
    assert box.notify.sends == 1, "the notice an earlier try of this flush sent went out again"


# --- 4. make bench's rounds ------------------------------------------------------------------


@pytest.mark.parametrize("rounds", ["0", "-2"])
def test_bench_refuses_rounds_below_one_before_it_starts_anything(rounds, monkeypatch, capsys):
    """`python -m bench.run --rounds 0` started a server and two workers, measured nothing, and
    died with a traceback (`median_of([])`: IndexError) after the setup; it must be refused at once
    in words that name the option."""
    monkeypatch.setattr(sys, "argv", ["bench.run", "--rounds", rounds, "--only", "throughput"])
    with pytest.raises(SystemExit) as ended:
        options("bench")
    assert ended.value.code == 2
    assert "--rounds" in capsys.readouterr().err


# --- 3. the home page's shared query (held) ----------------------------------------------------


async def test_a_person_with_more_rows_than_the_cap_crowds_no_one_out_of_a_shared_query(
    dev, settings, reference_plan, monkeypatch
):
    """Li leads every transition (more than the cap, made small here), Raj signs each one's SLAs,
    Eve waits on nothing: loaded together, each sees what a load of their own shows."""
    from bpo.web import views
    from bpo.web.plan_names import PlanNames
    from tests.conftest import running_worker
    from tests.driver import Driver

    people = ["li@acme.example", "raj@northstar.example", "eve@acme.example"]
    async with running_worker(dev, settings):
        for _ in range(4):
            await Driver.start(dev, reference_plan, settings.task_queue)
        for _ in range(100):  # until the store lists every one with the people it waits on
            seen = await views.overviews(dev.client, people[:2])
            if len(seen[people[1]].inbox) >= 4 and len(seen[people[0]].portfolio or []) == 4:
                break
            await asyncio.sleep(0.2)
        monkeypatch.setattr(views, "MAX_ROWS", 2)
        alone = {p: await views.overview(dev.client, p) for p in people}
        asked: list[str] = []
        listing = dev.client.workflow_service.list_workflow_executions

        async def counted(request: Any, *args: Any, **kwargs: Any) -> Any:
            asked.append(request.query)
            return await listing(request, *args, **kwargs)

        monkeypatch.setattr(dev.client.workflow_service, "list_workflow_executions", counted)
        recent = views.Recent(plan_names=PlanNames())
        together = await asyncio.gather(*(recent.overview(dev.client, p) for p in people))

    def rows(o: views.Overview) -> tuple[list[tuple[str, str | None]], list[str]]:
        return [(r.id, r.gate) for r in o.inbox], [r.id for r in o.portfolio or []]

    assert {p: rows(o) for p, o in zip(people, together)} == {p: rows(o) for p, o in alone.items()}
    assert len(rows(alone[people[0]])[1]) == 2 and rows(alone[people[1]])[0], alone
    # One query (in pages of the cap), for the three: four rows, under its cap of six.
    assert len(set(asked)) == 1 and all(login_key(p) in asked[0] for p in people), asked
