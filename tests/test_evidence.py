"""Evidence pinned by its hash, on the time-skipping server with a real loopback HTTP server: an
approval naming a URL records the document's SHA-256 and keeps the file; a changed file is found
by the check; evidence too big, of a forbidden type, or required and unreachable refuses the
approval and records nothing."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest

from bpo.evidence_check import last_verdicts, pinned, verify
from infra.db import make_engine
from infra.settings import Settings
from models.commands import Approve, Waive
from tests.receivers import document_server
from tests.test_feeds import PAT, feed_plan, trail, until_written

MINUTES = b"Kickoff held 2027-01-12. Attendees: Pat, Quinn. Decisions: go ahead with the pilot.\n"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # The evidence and the webhook are on loopback: allowed here, as a deployment would say.
    return Settings(
        BPO_DATA_DIR=tmp_path, BPO_TASK_QUEUE=f"tq-{uuid.uuid4()}", BPO_EVIDENCE_MAX_MB=1, BPO_FETCH_ALLOW="127.0.0.0/8"
    )


@pytest.fixture
def docs():
    with document_server() as (base, served):
        served.put("/minutes.txt", MINUTES, "text/plain; charset=utf-8")
        yield base, served


@pytest.fixture
async def at_go_live(launch, docs, hook):
    base, _ = docs
    t = await launch(feed_plan(base, hook[0]))
    status = await t.do(Waive(gate="pilot_kpis_met", by=PAT, reason="pilot measured by hand this once"))
    assert status.phase == "go_live"
    return t


async def test_an_approval_with_evidence_at_a_url_records_its_hash_and_the_check_finds_a_change(
    at_go_live, docs, settings
):
    t, (base, served) = at_go_live, docs
    status = await t.do(Approve(gate="go_live_approved", by=PAT, evidence=f"{base}/minutes.txt"))
    assert status.phase == "steady_state", "the last gate passed on the pinned approval"
    [row] = [r for r in await until_written(t, settings, "approved") if r.gate == "go_live_approved"]
    digest = hashlib.sha256(MINUTES).hexdigest()
    assert row.detail["pinned"] == {
        "sha256": digest,
        "size": len(MINUTES),
        "content_type": "text/plain",
        "stored": f"sha256/{digest[:2]}/{digest}",
    }
    assert (settings.data_dir / "evidence" / row.detail["pinned"]["stored"]).read_bytes() == MINUTES
    engine = make_engine(settings.audit_url)
    [kept] = last_verdicts(pinned(trail(settings, t.id), "go_live_approved"), engine)
    assert kept.verdict == "unchanged" and kept.checked_at, "the pin is its first check, kept for the pages"
    [item] = await verify(pinned(trail(settings, t.id), "go_live_approved"), settings, engine)
    assert (item.verdict, item.mark) == ("unchanged", "pinned, unchanged")
    served.put("/minutes.txt", MINUTES.replace(b"go ahead", b"hold"), "text/plain")
    [item] = await verify(pinned(trail(settings, t.id), "go_live_approved"), settings, engine)
    assert item.verdict == "changed" and item.now_sha256 != digest
    [kept] = last_verdicts(pinned(trail(settings, t.id), "go_live_approved"), engine)
    assert kept.verdict == "changed" and kept.mark_when.startswith("pinned, CHANGED since it was approved; checked ")


@pytest.mark.parametrize(
    ("path", "kind", "body", "reason"),
    [
        (
            "/setup.exe",
            "application/x-msdownload",
            b"MZ\x90\x00",
            "files of its type are not accepted",
        ),
        ("/huge.pdf", "application/pdf", b"%PDF" + b"0" * (2 * 1024 * 1024), "over the limit of 1,048,576 bytes"),
        ("/gone.pdf", None, b"", "could not be fetched: it answered HTTP 404"),
    ],
)
async def test_evidence_refused_or_unreachable_refuses_a_required_approval_and_records_nothing(
    at_go_live, docs, settings, path, kind, body, reason
):
    t, (base, served) = at_go_live, docs
    if kind:
        served.put(path, body, kind)
    message = await t.refused(Approve(gate="go_live_approved", by=PAT, evidence=f"{base}{path}"), "EvidenceRefused")
    assert reason in message and "the approval is not recorded" in message
    status = await t.status()
    assert t.gate(status, "go_live_approved").status == "open"
    assert not [r for r in trail(settings, t.id) if r.kind == "approved"]


async def test_optional_evidence_that_cannot_be_fetched_is_approved_unpinned(launch, reference_plan, docs, settings):
    t = await launch(reference_plan)
    base, _ = docs
    status = await t.approve("gap_analysis_approved", "li@acme.example", evidence=f"{base}/nowhere.pdf")
    assert t.gate(status, "gap_analysis_approved").status == "passed"
    [row] = await until_written(t, settings, "approved")
    assert row.detail["evidence"] == f"{base}/nowhere.pdf" and "pinned" not in row.detail
