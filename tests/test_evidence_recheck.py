"""The daily check of pinned evidence, through the real parts: the `recheck_evidence` activity
against a real loopback HTTP server whose document changes, and a transition on the time-skipping
server with a real worker, whose approved evidence changes and is found changed a day later."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.evidence import EvidenceActivities
from bpo.evidence_check import last_verdicts, pinned
from bpo.report import render_report
from infra.addresses import Policy
from infra.db import make_engine
from infra.evidence_checks import last_checks
from infra.evidence_store import open_store
from infra.guard import guarded_client
from infra.settings import Settings
from models.commands import Approve, Waive
from models.evidence import PinRequest, RecheckItem, RecheckRequest
from models.feeds import period_of
from models.tables import evidence_check_key
from tests.receivers import document_server
from tests.test_feeds import PAT, feed_plan, serve_weeks, trail, until_written
from tests.test_guard import NoConnection, resolving_to

MINUTES = b"Go-live readiness review 2027-02-01: all criteria met. Decision: go live.\n"
CHANGED = MINUTES.replace(b"go live", b"hold")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # The evidence and the webhook are on loopback: allowed here, as a deployment would say.
    return Settings(BPO_DATA_DIR=tmp_path, BPO_TASK_QUEUE=f"tq-{uuid.uuid4()}", BPO_FETCH_ALLOW="127.0.0.0/8")


@pytest.fixture
def docs():
    with document_server() as (base, served):
        served.put("/readiness.txt", MINUTES, "text/plain")
        yield base, served


async def test_the_recheck_activity_finds_a_changed_document_and_keeps_the_verdict(docs, settings):
    base, served = docs
    url = f"{base}/readiness.txt"
    engine = make_engine(settings.audit_url)
    async with guarded_client(settings.fetch_policy, keep_alive=False) as http:
        evidence = EvidenceActivities(http, open_store(str(settings.data_dir / "evidence"), None), 1 << 20, engine)
        pin = (await ActivityEnvironment().run(evidence.pin, PinRequest(transition_id="t", gate="g", evidence=url))).pin
        assert pin is not None and pin.sha256 == hashlib.sha256(MINUTES).hexdigest()
        asked = RecheckRequest(transition_id="t", items=[RecheckItem(evidence=url, sha256=pin.sha256)])
        same = await ActivityEnvironment().run(evidence.recheck, asked)
        served.put("/readiness.txt", CHANGED, "text/plain")
        changed = await ActivityEnvironment().run(evidence.recheck, asked)
        served.down = True
        down = await ActivityEnvironment().run(evidence.recheck, asked)
    assert (same.verdicts, changed.verdicts, down.verdicts) == (["unchanged"], ["changed"], ["unreachable"])
    assert changed.model_dump() == {"verdicts": ["changed"]}, "nothing read from the source goes to the workflow"
    served.down = False
    async with guarded_client(settings.fetch_policy, keep_alive=False) as http:
        evidence = EvidenceActivities(http, open_store(str(settings.data_dir / "evidence"), None), 1 << 20, engine)
        await ActivityEnvironment().run(evidence.recheck, asked)
    row = last_checks(engine, "t")[str(evidence_check_key("t", url, pin.sha256))]
    assert (row.verdict, row.now_sha256) == ("changed", hashlib.sha256(CHANGED).hexdigest())


async def test_the_recheck_activity_never_connects_to_an_inside_address(monkeypatch, tmp_path):
    resolving_to(monkeypatch, "169.254.169.254")
    network = NoConnection()
    asked = RecheckRequest(
        transition_id="t", items=[RecheckItem(evidence="https://docs.example/readiness.pdf", sha256="a" * 64)]
    )
    async with guarded_client(Policy.parse(""), network) as http:
        evidence = EvidenceActivities(http, open_store(str(tmp_path), None), 1024)
        result = await ActivityEnvironment().run(evidence.recheck, asked)
    assert result.verdicts == ["unreachable"] and network.asked == []


async def test_approved_evidence_that_changes_is_audited_and_told_a_day_later_and_pages_read_changed(
    launch, docs, hook, settings, env
):
    base, served = docs
    t_plan = feed_plan(base, hook[0])
    t = await launch(t_plan)
    await t.do(Waive(gate="pilot_kpis_met", by=PAT, reason="pilot measured by hand this once"))
    status = await t.do(Approve(gate="go_live_approved", by=PAT, evidence=f"{base}/readiness.txt"))
    assert status.phase == "steady_state"
    served.put("/readiness.txt", CHANGED, "text/plain")
    await t.sleep(days=1, hours=1)
    [row] = await until_written(t, settings, "evidence_changed")
    assert (row.gate, row.detail["approver"]) == ("go_live_approved", PAT)
    engine = make_engine(settings.audit_url)
    [item] = last_verdicts(pinned(trail(settings, t.id), "go_live_approved"), engine)
    assert item.mark_when.startswith("pinned, CHANGED since it was approved; checked ")
    html = render_report(t_plan, await t.status(), trail(settings, t.id), await env.get_current_time(), [item])
    assert "pinned, CHANGED since it was approved; checked " in html, "the report reads the kept verdict"
    told = [n["body"] for n in hook[1] if n["body"].get("kind") == "evidence_changed"]
    assert len(told) == 1 and "Go live approved" in told[0]["subject"]
    await t.sleep(days=2)
    assert len([r for r in trail(settings, t.id) if r.kind == "evidence_changed"]) == 1, "told once"


HYPERCARE = """  - key: hypercare
    name: Hypercare
    due: 120d
    gates:
      - {key: hypercare_exit, kind: approval, approvers: {roles: [executive_sponsor]}}
"""


async def test_the_daily_check_goes_on_across_continue_as_new_and_a_change_is_told_once(launch, docs, hook, env):
    # Daily while the transition is in its phases: a hypercare phase follows the go-live.
    from models.plan_loader import parse_plan
    from tests.test_feeds import PLAN

    base, served = docs
    serve_weeks(served, period_of(await env.get_current_time(), "weekly"), 12)
    text = PLAN.read_text().replace("{base}", base).replace("{hook}", hook[0]).rstrip("\n") + "\n" + HYPERCARE
    t = await launch(parse_plan(text, env={}).plan)
    await t.do(Waive(gate="pilot_kpis_met", by=PAT, reason="pilot measured by hand this once"))
    await t.do(Approve(gate="go_live_approved", by=PAT, evidence=f"{base}/readiness.txt"))
    for day in range(45):  # a day at a time: about 11 events a day, so a run continues as new
        if day == 30:
            served.put("/readiness.txt", CHANGED, "text/plain")
        await t.sleep(days=1)
    await t.sleep(hours=1)  # the 45th day's check is due a little after the 45th sleep
    described = await env.client.get_workflow_handle(t.id).describe()
    assert described.run_id != described.raw_description.workflow_execution_info.first_run_id
    assert served.hits["/readiness.txt"] == 1 + 45, "pinned once, then checked every day"
    told = [n["body"] for n in hook[1] if n["body"].get("kind") == "evidence_changed"]
    assert len(told) == 1
