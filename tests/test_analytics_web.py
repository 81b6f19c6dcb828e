"""`/analytics`, `/api/analytics` and the downloads, over a trail made by driving the rules
(`tests.rules.sim.Run`) and written through the audit writer; Temporal stood in for by a client
that answers the plan and roster queries as the workflow would."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from bpo.web.app import create_app
from bpo.web.sessions import COOKIE, new_api_token, start_session
from infra.audit import write_entries
from infra.db import make_engine, migrate
from infra.settings import Settings
from models.deliveries import Deliveries
from tests.rules.sim import DANA, LI, PLAN, RAJ, Run

EVE = "eve@acme.example"
OUTSIDER = "someone@elsewhere.example"


class Handle:
    """A workflow handle whose queries and reader's update answer as the transition would."""

    async def query(self, name: str, result_type: Any = None) -> Any:
        return {"plan": PLAN, "roster": list(PLAN.people), "deliveries": Deliveries(pending=[], failed=[])}[name]

    async def execute_update(self, name: str, result_type: Any = None) -> int:
        return 0  # the reader's audit_written: nothing waits


class Temporal:
    """Just enough of `temporalio.client.Client` for the plan and roster queries."""

    def get_workflow_handle(self, workflow_id: str) -> Handle:
        return Handle()


@pytest.fixture
def app(tmp_path: Path):
    """The web app over a trail of the reference plan: planning passed in three days (24h for the
    gap analysis, 48h for the SLAs, 72h for governance); mobilization's gates open since."""
    engine = make_engine(f"sqlite:///{tmp_path}/audit.db")
    migrate(engine)
    run = Run()
    run.later(hours=24)
    run.approve("gap_analysis_approved", LI)
    run.later(hours=24)
    run.approve("slas_signed", DANA, RAJ)
    run.later(hours=24)
    run.tick("governance_defined", LI, "raci", "escalation_matrix", "communication_protocol", "knowledge_base")
    assert run.status().phase == "mobilization"
    with Session(engine) as session:
        write_entries(run.audit, session=session)
    settings = Settings(BPO_DATA_DIR=tmp_path, BPO_TASK_QUEUE=f"tq-{uuid.uuid4()}", BPO_PROGRAM_OFFICE=LI)
    with TestClient(create_app(settings, Temporal(), engine)) as client:  # type: ignore[arg-type]
        client.engine = engine  # type: ignore[attr-defined]
        yield client


def signed_in(client: TestClient, address: str) -> TestClient:
    client.cookies.set(COOKIE, start_session(client.engine, address, "web-link", timedelta(hours=1)))  # type: ignore[attr-defined]
    return client


def test_the_program_office_sees_each_chart_with_its_figures_beside_it(app):
    page = signed_in(app, LI).get("/analytics")
    assert page.status_code == 200, page.text
    text = page.text
    assert text.count("<svg") == 4 and 'role="img"' in text
    # planning: 72h against 14 planned days (336h), on time; the gap analysis decided after 24h
    assert "Strategic planning" in text and "72 h" in text and "336 h" in text and "100%" in text
    assert "<th scope=\"row\">Gap analysis approved</th><td>1</td><td>24 h</td>" in text  # the gate in words
    assert "kickoff_held" in text, "mobilization's gates wait now"
    assert 'href="/analytics/export/decisions.xlsx"' in text


def test_the_analytics_are_the_program_offices_only(app):
    refused = signed_in(app, DANA).get("/analytics")
    assert refused.status_code == 403 and "for the program office (BPO_PROGRAM_OFFICE)" in refused.text
    assert signed_in(app, DANA).get("/analytics/export/decisions.csv").status_code == 403
    bad = signed_in(app, LI).get("/analytics", params={"since": "yesterday"})
    assert bad.status_code == 422 and "since: &#39;yesterday&#39; is not a day" in bad.text


def test_the_api_answers_the_same_figures_to_the_offices_token(app):
    token = new_api_token(app.engine, LI, "t", "read", timedelta(hours=1))  # type: ignore[attr-defined]
    found = app.get("/api/analytics", params={"client": PLAN.client}, headers={"Authorization": f"Bearer {token}"})
    assert found.status_code == 200, found.text
    body = found.json()
    planning = next(p for p in body["phases"] if p["key"] == "planning")
    assert (planning["actual"]["median_hours"], planning["planned"]["median_hours"], planning["on_time_share"]) == (
        72,
        336,
        1,
    )
    assert app.get("/api/analytics", params={"client": "Globex"}, headers={"Authorization": f"Bearer {token}"}).json()[
        "transitions"
    ] == []
    other = new_api_token(app.engine, DANA, "t", "read", timedelta(hours=1))  # type: ignore[attr-defined]
    assert app.get("/api/analytics", headers={"Authorization": f"Bearer {other}"}).status_code == 403


def test_a_transitions_download_is_for_its_roster(app):
    got = signed_in(app, EVE).get("/t/t-1/export/decisions.csv")
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert [r["kind"] for r in rows].count("approved") == 3 and {r["transition_id"] for r in rows} == {"t-1"}
    assert signed_in(app, OUTSIDER).get("/t/t-1/export/decisions.csv").status_code == 403
    assert signed_in(app, EVE).get("/t/t-1/export/passwords.csv").status_code == 422


def test_a_workstreams_download_reaches_the_workstream(app):
    got = signed_in(app, EVE).get("/t/prog/email/export/raid.csv")
    assert got.status_code == 200 and got.headers["content-disposition"] == 'attachment; filename="prog-email-raid.csv"'
    assert got.content.decode("utf-8-sig").splitlines() == ["transition_id,at,phase"]
