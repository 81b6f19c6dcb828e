"""Seeing a program (semantics: "Workstreams"): `bpo status PROGRAM` lists its workstreams, one a
line, with what one not started waits for; a workstream's status names its program; `bpo list`
shows workstreams under their program; the web app's program page draws the lanes, each linking
to its workstream, whose pages (a gate's included) take the id ``PROGRAM/KEY`` and link back; the
inbox names the workstream of a gate. Driven on the time-skipping server, the web app in process."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from bpo.commands import seeing
from bpo.commands.seeing import under_programs
from bpo.web.app import create_app
from bpo.web.deps import Web
from bpo.web.sessions import new_api_token
from infra.db import make_engine, migrate
from infra.links import mint_link
from tests.driver import Driver
from tests.stack import DANA, EVE
from tests.test_workstreams import program_plan, until
from tests.web_client import csrf_of, text_of


async def running_program(launch) -> Driver:
    """The example program with its contract signed: email and voice run, chat waits for email."""
    program = await launch(program_plan())
    await program.approve("contract_signed", DANA)
    await until(
        program,
        lambda s: all(w.state == "running" and w.next_due for w in s.workstreams if w.key in ("email", "voice")),
        "email and voice run, and the program has read each once",
    )
    return program


@pytest.fixture
def commands_here(env, monkeypatch):
    """The `bpo` commands run in this process, against this test's time-skipping server."""

    async def client_for(_settings):
        return env.client

    monkeypatch.setattr(seeing, "client_for", client_for)


async def test_bpo_status_of_a_program_lists_each_workstream_and_what_it_waits_for(
    launch, settings, commands_here, capsys
):
    program = await running_program(launch)
    await seeing.cmd_status(argparse.Namespace(id=program.id, json=False), settings)
    said = capsys.readouterr().out
    lines = said.split("Workstreams:", 1)[1].splitlines()
    email = next(line for line in lines if "email (Tier-1 email support)" in line)
    chat = next(line for line in lines if "chat (Live chat)" in line)
    assert "running" in email and "knowledge_transfer" in email and "on_track" in email
    assert "due " in email and "gates process_maps" in email
    assert "waiting" in chat and "waiting for email to pass pilot" in chat
    assert "voice (Inbound voice)" in said

    await seeing.cmd_status(argparse.Namespace(id=f"{program.id}/email", json=False), settings)
    said = capsys.readouterr().out
    assert f"Workstream email of program {program.id}" in said
    assert "Workstreams:" not in said and "process_maps" in said


def test_bpo_list_shows_each_workstream_under_its_program():
    found = [
        {"id": "acme-cc/voice", "program": "acme-cc"},
        {"id": "other", "program": None},
        {"id": "acme-cc", "program": None},
        {"id": "acme-cc/email", "program": "acme-cc"},
        {"id": "gone/chat", "program": "gone"},  # its program not listed: shown whole
    ]
    assert [t["id"] for t in under_programs(found)] == ["other", "acme-cc", "  └ email", "  └ voice", "gone/chat"]


async def test_bpo_list_refuses_a_program_it_cannot_look_up(settings):
    args = argparse.Namespace(
        state=None, phase=None, health=None, client=None, provider=None, program="x' OR 1=1", json=False
    )
    with pytest.raises(seeing.Exit, match="--program: 'x' OR 1=1' is not a name to filter on"):
        await seeing.cmd_list(args, settings)  # refused before any server is asked


@pytest.fixture
async def browser(env, settings) -> AsyncIterator[httpx.AsyncClient]:
    """The web app over this test's time-skipping server and audit database, in process."""
    engine = make_engine(settings.audit_url)
    migrate(engine)
    app = create_app(settings, env.client, engine)
    async with httpx.AsyncClient() as http:
        app.state.web = Web(settings, engine, env.client, http)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as person:
            yield person


async def sign_in(person: httpx.AsyncClient, settings, address: str) -> None:
    token = mint_link(make_engine(settings.audit_url), address, "/", timedelta(hours=1))
    opened = await person.get(f"/login/link/{token}")
    pressed = await person.post(f"/login/link/{token}", data={"csrf": csrf_of(opened.text)})
    assert pressed.status_code == 303, pressed.text[:500]


async def test_the_program_page_draws_a_lane_per_workstream_and_each_links_to_its_own_pages(launch, settings, browser):
    program = await running_program(launch)
    await sign_in(browser, settings, EVE)  # on the program's roster, so on every workstream's

    page = await browser.get(f"/t/{program.id}")
    assert page.status_code == 200, page.text[:500]
    assert '<svg class="lanes"' in page.text
    for key in ("email", "voice"):
        assert f'href="/t/{program.id}/{key}"' in page.text, key
    shown = text_of(page.text)
    assert "Live chat chat waiting" in shown and "waiting for email to pass pilot" in shown
    assert "after email passes pilot" in shown and "chat starts after email passes pilot" in page.text

    stream = await browser.get(f"/t/{program.id}/email")
    assert stream.status_code == 200, stream.text[:500]
    assert f'href="/t/{program.id}"' in stream.text
    assert "Workstream email of program" in text_of(stream.text)
    assert '<svg class="lanes"' not in stream.text

    gate = await browser.get(f"/t/{program.id}/email/gates/process_maps")
    assert gate.status_code == 200, gate.text[:500]
    assert "Workstream email of program" in text_of(gate.text)
    ticked = await browser.post(
        f"/t/{program.id}/email/gates/process_maps",
        data={"csrf": csrf_of(gate.text), "action": "tick", "item": "email_support"},
    )
    assert ticked.status_code == 303, ticked.text[:1000]
    email = Driver(program.env, program.client, f"{program.id}/email")
    await until(email, lambda s: s.phase == "pilot", "the workstream's gate decided from its own page")

    report = await browser.get(f"/t/{program.id}/email/report")
    assert report.status_code == 200 and "Tier-1 email support" in report.text
    assert (await browser.get(f"/t/{program.id}/kpi")).status_code == 200  # the program's own page, not a key

    token = new_api_token(make_engine(settings.audit_url), EVE, "test", "read", timedelta(hours=1))
    answer = await browser.get(f"/api/transitions/{program.id}/email", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and answer.json()["program"] == program.id


async def test_someone_off_the_roster_sees_no_workstream(launch, settings, browser):
    program = await running_program(launch)
    await sign_in(browser, settings, "nobody@nowhere.example")
    page = await browser.get(f"/t/{program.id}/email")
    assert page.status_code == 403 and "not on the roster" in page.text


def test_the_inbox_names_the_workstream_of_a_gate():
    from bpo.web.deps import templates
    from bpo.web.views import Row

    rows = [Row("acme-cc/email", "ACME", "NorthStar", "hypercare", "on_track", "running", None, None, "hypercare_exit")]
    shown = text_of(templates.get_template("_inbox.html").render(rows=rows))
    assert "ACME workstream email acme-cc/email" in shown
    assert 'href="/t/acme-cc/email/gates/hypercare_exit"' in templates.get_template("_inbox.html").render(rows=rows)
