"""The program office in the browser (issue 32, part 1): every command a program manager or a
sponsor uses has its form on the transition page, built from the command registry, offered only
where the workflow's ``offered`` query allows it, refused in the rules' words and audited with how
the person was known. Driven on the time-skipping server, the web app in process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from bpo.api import audit_settled
from bpo.web.app import create_app
from bpo.web.deps import Web
from infra.audit import trail_of
from infra.db import make_engine, migrate
from infra.links import mint_link
from models.commands import Pause, RaidAdd
from tests.stack import DANA, EVE, LI, REFERENCE_PLAN
from tests.web_client import csrf_of, text_of

OFFICE_FORMS = ("raid_add", "change_roster", "amend", "pause", "escalate", "cancel")
"""The forms a program manager finds on a running transition's page."""
LEADS_ONLY = ("change_roster", "amend", "pause", "resume", "escalate", "cancel", "raid_close")


@pytest.fixture
async def app(env, settings) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient, httpx.AsyncClient]]:
    """The web app over this test's time-skipping server; Li (program manager), Dana (executive
    sponsor) and Eve (an SME) each signed in by a link in a browser of their own."""
    engine = make_engine(settings.audit_url)
    migrate(engine)
    application = create_app(settings, env.client, engine)
    async with httpx.AsyncClient() as http:
        application.state.web = Web(settings, engine, env.client, http)
        transport = httpx.ASGITransport(app=application)
        people = []
        for address in (LI, DANA, EVE):
            person = httpx.AsyncClient(transport=transport, base_url="http://localhost")
            token = mint_link(engine, address, "/", timedelta(hours=1))
            opened = await person.get(f"/login/link/{token}")
            assert (await person.post(f"/login/link/{token}", data={"csrf": csrf_of(opened.text)})).status_code == 303
            people.append(person)
        yield people[0], people[1], people[2]
        for person in people:
            await person.aclose()


async def send(person: httpx.AsyncClient, tid: str, command: str, **fields: str) -> httpx.Response:
    """Fill in and press the form ``command`` of the transition page, as a browser would."""
    page = (await person.get(f"/t/{tid}")).text
    return await person.post(f"/t/{tid}/status/{command}", data={"csrf": csrf_of(page), **fields})


def forms_on(page: str) -> set[str]:
    return {name for name in (*OFFICE_FORMS, *LEADS_ONLY, "resume", "delegate", "note") if f'id="form-{name}"' in page}


async def test_a_program_manager_runs_the_transition_from_its_page_and_each_step_is_audited_via_web(
    t, app, settings, env
):
    li, dana, _ = app
    page = await li.get(f"/t/{t.id}")
    assert page.status_code == 200, page.text[:1000]
    assert set(OFFICE_FORMS) <= forms_on(page.text) and "resume" not in forms_on(page.text)
    shown = text_of(page.text)
    assert shown.index("What needs you") < shown.index("Timeline against plan") < shown.index("Gates of")
    assert "Gap analysis approved" in shown.split("Timeline against plan")[0], "what waits on Li, first"

    # A RAID item that holds a gate: Li's approval does not pass it until the item is closed.
    added = await send(
        li,
        t.id,
        "raid_add",
        kind="issue",
        title="Telephony cut-over not booked",
        owner=LI,
        severity="high",
        blocks="gap_analysis_approved",
    )
    assert added.status_code == 303, text_of(added.text)[:1000]
    await t.approve("gap_analysis_approved", LI)
    gate = t.gate(await t.status(), "gap_analysis_approved")
    assert gate.status == "open" and gate.blocked_by == ["I-1"]
    page = (await li.get(added.headers["location"])).text
    assert "Done: “Open a RAID item” is recorded." in text_of(page) and 'id="form-raid_close"' in page
    closed = await send(li, t.id, "raid_close", item="I-1", note="booked for 12 January")
    assert closed.status_code == 303, text_of(closed.text)[:1000]
    assert t.gate(await t.status(), "gap_analysis_approved").status == "passed"

    roster = await send(li, t.id, "change_roster", add_id="sam@acme.example", add_name="Sam Ortiz", add_roles="sme")
    assert roster.status_code == 303, text_of(roster.text)[:1000]
    assert "Sam Ortiz" in text_of((await li.get(f"/t/{t.id}")).text)

    # An amendment: its changes shown before it is proposed, then the sponsor approves it.
    new_plan = REFERENCE_PLAN.read_text().replace("name: Customer satisfaction", "name: Customer happiness", 1)
    page = (await li.get(f"/t/{t.id}")).text
    form = {"csrf": csrf_of(page), "plan_text": new_plan, "reason": "the client's own word"}
    preview = await li.post(f"/t/{t.id}/status/amend", data=form | {"action": "preview"})
    assert preview.status_code == 200 and "KPI csat changed" in text_of(preview.text)
    assert not (await t.status()).amendments, "nothing is proposed by looking at the changes"
    proposed = await li.post(f"/t/{t.id}/status/amend", data=form | {"action": "propose"})
    assert proposed.status_code == 303, text_of(proposed.text)[:1000]
    assert 'id="approve-amendment_1"' not in (await li.get(f"/t/{t.id}")).text, "a sponsor decides amendments"
    sponsor_page = (await dana.get(f"/t/{t.id}")).text
    assert 'id="approve-amendment_1"' in sponsor_page and "KPI csat changed" in text_of(sponsor_page)
    approved = await send(dana, t.id, "approve", gate="amendment_1", note="agreed")
    assert approved.status_code == 303, text_of(approved.text)[:1000]
    assert (await t.status()).amendments[0].status == "approved"

    assert (await send(li, t.id, "pause", reason="client freeze over the holidays")).status_code == 303
    assert (await t.status()).state == "paused"
    assert {"resume"} <= forms_on((await li.get(f"/t/{t.id}")).text) and "pause" not in forms_on(
        (await li.get(f"/t/{t.id}")).text
    )
    assert (await send(li, t.id, "resume", reason="freeze over")).status_code == 303
    assert (await t.status()).state == "running"
    # Refused by the rules in their words, in the form that sent it; a form filled in wrong says where.
    too_high = await send(li, t.id, "escalate", reason="now", level="20")
    assert too_high.status_code == 409
    form = too_high.text.split('id="form-escalate"', 1)[1].split("</form>", 1)[0]
    assert "Refused:" in text_of(form) and "level" in text_of(form), text_of(form)
    past = await send(li, t.id, "raid_add", kind="action", title="Old", owner=LI, due="2020-01-01")
    assert past.status_code == 422 and "due date 2020-01-01 has passed" in text_of(past.text)
    not_a_day = await send(li, t.id, "raid_add", kind="action", title="Odd", owner=LI, due="someday")
    assert not_a_day.status_code == 422 and "Check the form:" in text_of(not_a_day.text)
    assert len((await t.status()).raid) == 1, "nothing refused was opened"
    assert (await send(li, t.id, "escalate", reason="the provider has not staffed the pilot")).status_code == 303
    assert (await t.status()).escalations

    await audit_settled(env.client, t.id, 10)
    rows = trail_of(make_engine(settings.audit_url), t.id)
    via = {r.kind: r.via for r in rows if r.actor in (LI, DANA)}
    for kind in ("raid_added", "raid_closed", "roster_changed", "amendment_proposed", "amendment_approved"):
        assert via.get(kind) == "web-link", (kind, via)
    for kind in ("paused", "resumed", "escalated"):
        assert via.get(kind) == "web-link", (kind, via)


async def test_an_sme_is_offered_none_of_the_leads_forms_and_a_forged_post_is_refused_in_the_rules_words(t, app):
    li, _, eve = app
    assert (await send(li, t.id, "raid_add", kind="risk", title="Attrition", owner=LI)).status_code == 303
    page = await eve.get(f"/t/{t.id}")
    assert page.status_code == 200
    assert not forms_on(page.text) & set(LEADS_ONLY), forms_on(page.text)
    words = await t.refused(Pause(by=EVE, reason="x"), "NotAllowed")
    forged = await send(eve, t.id, "pause", reason="I would like a break")
    assert forged.status_code == 409 and f"Refused: {words}" in text_of(forged.text)
    assert (await t.status()).state == "running", "a refused command changes nothing"
    no_token = await eve.post(f"/t/{t.id}/status/pause", data={"csrf": "forged", "reason": "x"})
    assert no_token.status_code == 403
    amend = await eve.post(
        f"/t/{t.id}/status/amend",
        data={"csrf": csrf_of(page.text), "action": "propose", "reason": "mine", "plan_text": "x"},
    )
    assert amend.status_code == 422 and not (await t.status()).amendments
    phase_gate = await send(eve, t.id, "approve", gate="gap_analysis_approved")
    assert phase_gate.status_code == 400, "a phase's gate is decided on its own page"


def test_every_command_the_office_sends_from_the_page_gets_its_form_from_what_it_declares():
    from bpo.web.forms import CUSTOM, inputs_of
    from workflows.rules.offered import PROBES, office_commands

    sent = {c.update for c in office_commands()}
    assert {"raid_add", "raid_close", "change_roster", "amend", "delegate", "pause", "resume", "cancel"} <= sent
    assert {"escalate", "retry_notices", "pull_feed"} <= sent and "trust_keys" not in sent and "approve" not in sent
    for command_type in office_commands():
        assert command_type in CUSTOM or set(command_type.form) <= set(command_type.model_fields), command_type
        needs_more = [n for n, f in command_type.model_fields.items() if f.is_required() and n != "by"]
        assert command_type in PROBES or all(command_type.model_fields[n].annotation is str for n in needs_more), (
            f"{command_type.update} needs a probe of its own in workflows.rules.offered.PROBES"
        )
    kinds = {i.name: i.kind for i in inputs_of(RaidAdd, {"owner": [(LI, "Li")]})}
    assert kinds == {
        "kind": "select",
        "title": "text",
        "owner": "select",
        "severity": "select",
        "due": "date",
        "blocks": "text",
    }


def test_every_office_form_has_a_hint_in_plain_sentences_and_a_refusal_names_its_fields_by_their_labels():
    from bpo.web.forms import HINTS, in_form_words
    from workflows.rules.offered import office_commands

    for command_type in office_commands():
        hint = HINTS.get(command_type.update, "")
        assert hint.endswith(".") and "``" not in hint and "--" not in hint, command_type.update
    said = in_form_words("delegate", "a delegation needs --to PERSON and --until DATE (or --end to stop one)")
    assert (
        said
        == "a delegation needs “Taken by” and “Until the end of” (or “End this person's delegation instead” to stop one)"
    )
    assert in_form_words("escalate", "every level has fired; name one with --level") == (
        "every level has fired; name one with “Ladder level”"
    )
    assert in_form_words("pause", "resume it with --by PERSON") == "resume it with --by PERSON", "not a field of it"
