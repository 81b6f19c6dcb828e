"""KPI feeds and pinned evidence end to end: the real dev server, a real worker, `bpo web` and the
real `bpo` command, with the contact-centre platform played by a loopback HTTP server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from infra.db import make_engine
from infra.links import mint_link
from models.feeds import period_of
from tests.receivers import document_server
from tests.stack import Stack
from tests.test_feeds import GOOD, PAT, PLAN, QUINN
from tests.web_client import Person, text_of

pytestmark = pytest.mark.e2e
TID = "feed-e2e"
MINUTES = b"Go-live readiness review, 2027-03-01: every criterion met.\n"


@pytest.fixture
def world(tmp_path: Path, hook):
    """The engine with the web app, and the platform the plan's feed reads, on loopback."""
    with document_server() as (base, served):
        stack = Stack(tmp_path, {"BPO_FETCH_ALLOW": "127.0.0.0/8"})  # the platform is on loopback
        try:
            stack.start_server()
            stack.start_worker()
            stack.start_web()
            text = PLAN.read_text().replace("{base}", base).replace("{hook}", hook[0])
            text = text.replace(
                "{roles: [executive_sponsor]}", "{roles: [executive_sponsor, transition_lead], rule: all}"
            )
            (tmp_path / "plan.yaml").write_text(text)
            stack.ok("start", str(tmp_path / "plan.yaml"), "--id", TID)
            yield stack, base, served
        finally:
            stack.stop()


def test_a_pilot_passes_on_pulled_readings_and_a_go_live_pins_its_evidence(world, tmp_path):
    s, base, served = world
    now = datetime.now(UTC)
    weeks = [period_of(now - timedelta(days=14), "weekly"), period_of(now - timedelta(days=7), "weekly")]
    for week in weeks:
        served.json(f"/weeks/{week}.json", GOOD)
    assert "contact_centre" in s.ok("feed", TID)
    refused = s.bpo("feed", TID, "--pull-now", "--by", QUINN)
    assert refused.returncode == 2 and "nothing to pull" in refused.stderr
    s.ok("feed", TID, "--pull-now", "--by", QUINN, *[arg for w in weeks for arg in ("--period", w)])
    status = s.wait_for(TID, lambda st: st["phase"] == "go_live")
    assert f"contact_centre: next period {period_of(now, 'weekly')}" in s.ok("status", TID)
    assert not [d for d in status["decisions"] if d["kind"] == "kpi_reading"], "nobody typed a reading"
    readings = [r for r in json.loads(s.ok("audit", TID, "--json")) if r["kind"] == "kpi_reading"]
    assert [(r["via"], r["detail"]["period"]) for r in readings] == [("feed", weeks[0]), ("feed", weeks[1])]

    served.put("/minutes.txt", MINUTES, "text/plain")
    s.ok("approve", TID, "go_live_approved", "--by", PAT, "--evidence", f"{base}/minutes.txt")
    quinn = Person(s.web_url)
    token = mint_link(make_engine(f"sqlite:///{s.data_dir / 'audit.db'}"), QUINN, "/", timedelta(hours=1))
    assert quinn.sign_in(f"{s.web_url}/login/link/{token}").status_code == 303
    gate = f"/t/{TID}/gates/go_live_approved"
    fetched = served.hits["/minutes.txt"]
    assert "pinned, unchanged; checked " in text_of(quinn.get(gate).text), "PAT's link, as checked when it was pinned"
    assert "pinned, unchanged; checked " in text_of(quinn.get(f"/t/{TID}").text)
    assert served.hits["/minutes.txt"] == fetched, "a page shows the last check and fetches nothing"
    exe = quinn.submit(
        gate, {"action": "approve"}, files={"evidence_file": ("tool.exe", b"MZ\x90", "application/octet-stream")}
    )
    assert exe.status_code == 422 and "not accepted as evidence" in text_of(exe.text)
    sheet = b"%PDF-1.7 readiness checklist, signed\n"
    done = quinn.submit(
        gate, {"action": "approve"}, files={"evidence_file": ("checklist.pdf", sheet, "application/pdf")}
    )
    assert done.status_code == 303
    s.wait_for(TID, lambda st: st["phase"] == "steady_state")

    verified = s.bpo("evidence", TID, "go_live_approved", "--verify")
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.count("pinned, unchanged") == 2 and "upload:" in verified.stdout
    served.put("/minutes.txt", MINUTES.replace(b"every criterion met", b"two criteria open"), "text/plain")
    changed = s.bpo("evidence", TID, "go_live_approved", "--verify")
    assert changed.returncode == 1 and "CHANGED since it was approved" in changed.stdout
    assert "1 of 2 pinned evidence of 'go_live_approved' no longer match" in changed.stderr

    fetched = served.hits["/minutes.txt"]
    s.ok("report", TID, "--out", str(tmp_path / "report.html"))
    report = (tmp_path / "report.html").read_text()
    assert report.count("from feed contact_centre") == 2 and "pinned, CHANGED since it was approved" in report
    kpi_page = text_of(quinn.get(f"/t/{TID}/kpi").text)
    assert "Customer satisfaction (%; SLA ≥ 85.0) from feed contact_centre" in kpi_page
    assert "pulled by themselves once each week ends" in kpi_page
    page = text_of(quinn.get(f"/t/{TID}").text)
    assert "from feed contact_centre" in page and "pinned, CHANGED since it was approved" in page
    assert served.hits["/minutes.txt"] == fetched, "the report and the pages read the verdict `--verify` kept"
    assert f"KPI feeds, pulled as each week ends: contact_centre next for {period_of(now, 'weekly')}" in page
