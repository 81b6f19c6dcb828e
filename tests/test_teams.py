"""Microsoft Teams: a plan's ``kind: teams`` channel posts Adaptive Cards (schema 1.5) to the
deployment's Teams webhook (``BPO_TEAMS_WEBHOOK_URL``, or a webhook connection open to the plan's
client), received here by a real HTTP server on loopback. The card says what the Slack message
says and opens the gate's page; a plan never carries the webhook's URL; a failed post is tried
again or, refused for good, kept as failed, as a webhook's is."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.notify import NotifyActivities
from activities.outbox import OutboxActivities
from bpo.api import start_transition
from infra.audit import read_trail
from infra.db import make_engine
from infra.settings import Settings
from infra.teams_cards import notice_card
from infra.transport import Transport
from models.connections import Connection, Connections, load_connections
from models.deliveries import Delivery, Flush, Notice
from models.plan import Plan, TeamsChannel
from models.plan_loader import PlanError, parse_plan
from tests.conftest import REFERENCE_PLAN
from tests.receivers import webhook_receiver
from tests.stack import ROOT
from tests.test_mail import request

WEB = "https://bpo.acme.example"
TEAMS = TeamsChannel(kind="teams")
GATE = "gap_analysis_approved"


def card_of(received: dict[str, Any]) -> dict[str, Any]:
    """The Adaptive Card of a message a Teams webhook took, held to the shape Teams takes."""
    body = received["body"]
    assert body["type"] == "message" and len(body["attachments"]) == 1
    attachment = body["attachments"][0]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert received["headers"]["content-type"] == "application/json"
    return card


def facts_of(card: dict[str, Any]) -> dict[str, str]:
    return {f["title"]: f["value"] for b in card["body"] if b["type"] == "FactSet" for f in b["facts"]}


async def post(
    engine: Any, transport: Transport, notice: Notice, channel: TeamsChannel = TEAMS, client: str | None = None
) -> None:
    async with httpx.AsyncClient() as http:
        notify = NotifyActivities(engine, http, transport)
        await ActivityEnvironment().run(notify.deliver, Delivery(notice=notice, channel=channel, client=client))


async def test_a_request_is_an_adaptive_card_with_the_gates_facts_and_a_button_to_its_page(engine):
    with webhook_receiver() as (url, received):
        await post(engine, Transport(teams_webhook=url + "?sig=K3Y", web_url=WEB), request())
    card = card_of(received[0])
    heading = card["body"][0]
    assert heading["text"] == "Gap analysis approved" and heading["style"] == "heading"
    assert facts_of(card) == {
        "Waits on": "Li Chen",
        "Needs": "0/1 approvals",
        "Signed": "nobody yet",
        "Due": "Fri 22 Jan 2027 17:00 UTC",
    }
    assert "sign off the gate 'Gap analysis approved'" in card["body"][1]["text"]
    assert "Transition t1" in card["body"][-1]["text"]
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open the gate", "url": f"{WEB}/t/t1/gates/{GATE}"}]
    assert "/login/link/" not in received[0]["raw"].decode(), "sign-in links travel only by mail"
    with Session(engine) as session:
        sent = [r for r in read_trail("t1", session=session) if r.kind == "notification_sent"]
    assert [(r.detail["channel"], r.detail["notice"]) for r in sent] == [("teams", "t1/1/3")]


def test_a_plans_words_never_become_a_link_or_emphasis_and_long_names_are_cut():
    sneaky = request(gate_name="[Approve here](https://attacker.example) " + "x" * 400)
    card = notice_card(sneaky.model_copy(update={"text": "**urgent** _now_"}), WEB)
    heading, words = card["body"][0]["text"], card["body"][1]["text"]
    assert r"\[Approve here\]" in heading and len(heading) <= 220
    assert words == r"\*\*urgent\*\* \_now\_"
    assert card["actions"][0]["url"] == f"{WEB}/t/t1/gates/{GATE}", "the button is ours, not the plan's"


NODE = ROOT / "tests" / "browser"


def validation_events(card: dict[str, Any]) -> list[dict[str, Any]]:
    """What Microsoft's ``adaptivecards`` library (npm, run on the machine's Node.js) finds wrong
    with ``card`` as schema 1.5: unknown elements, bad values, missing properties."""
    assert (NODE / "node_modules" / "adaptivecards").is_dir(), "npm ci in tests/browser (make test does it)"
    done = subprocess.run(
        ["node", str(NODE / "validate-card.mjs")], input=json.dumps(card), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_every_card_parses_as_schema_1_5_without_a_validation_event():
    escalation = request().model_copy(update={"kind": "escalation", "detail": {"phase": "planning"}})
    cards = [
        notice_card(request(), WEB),
        notice_card(request(gate_name="[x](https://a.example) " + "y" * 400, due=None, signed=None), WEB),
        notice_card(escalation, WEB),
        notice_card(escalation, None),
    ]
    for card in cards:
        assert validation_events(card) == [], card
    wrong = {**cards[0], "body": [*cards[0]["body"], {"type": "TextBlock", "text": "x", "style": "headline"}]}
    assert validation_events(wrong), "the check finds what is wrong"


async def test_a_teams_channel_may_name_a_webhook_connection_open_to_its_client_only(engine):
    with webhook_receiver() as (url, received):
        hook = Connection(name="acme-teams", kind="webhook", clients=["ACME Corp"], url_from="BPO_TEAMS_ACME_URL")
        transport = Transport(
            settings={"BPO_TEAMS_ACME_URL": url}, connections=Connections(connections=[hook]), web_url=WEB
        )
        channel = TeamsChannel(kind="teams", connection="acme-teams")
        await post(engine, transport, request(), channel, client="ACME Corp")
        with pytest.raises(ApplicationError) as refused:
            await post(engine, transport, request(), channel, client="Globex")
    assert len(received) == 1 and card_of(received[0])["body"][0]["text"] == "Gap analysis approved"
    assert refused.value.non_retryable and "not open to client 'Globex'" in refused.value.message


async def test_without_the_setting_a_teams_channel_is_skipped_and_nothing_is_audited(engine):
    await post(engine, Transport(web_url=WEB), request())
    with Session(engine) as session:
        assert read_trail("t1", session=session) == []


async def test_a_failed_post_is_tried_again_and_a_refusal_kept_as_failed_never_naming_the_url(engine):
    async with httpx.AsyncClient() as http:
        with webhook_receiver(fail_first=1, fail_status=503) as (url, received):
            flush = OutboxActivities(
                NotifyActivities(engine, http, Transport(teams_webhook=url, web_url=WEB)), timedelta(hours=1)
            )
            batch = Flush(deliveries=[Delivery(notice=request(), channel=TEAMS)])
            first = await ActivityEnvironment().run(flush.flush, batch)
            again = await ActivityEnvironment().run(flush.flush, batch)
        with webhook_receiver(fail_first=1, fail_status=404) as (gone, _):
            flush = OutboxActivities(NotifyActivities(engine, http, Transport(teams_webhook=gone)), timedelta(hours=1))
            other = Flush(deliveries=[Delivery(notice=request().model_copy(update={"id": "t1/1/4"}), channel=TEAMS)])
            refused = await ActivityEnvironment().run(flush.flush, other)
        plain = OutboxActivities(
            NotifyActivities(engine, http, Transport(teams_webhook="http://teams.example/x")), timedelta(hours=1)
        )
        third = Flush(deliveries=[Delivery(notice=request().model_copy(update={"id": "t1/1/5"}), channel=TEAMS)])
        insecure = await ActivityEnvironment().run(plain.flush, third)
    assert first.outcomes[0].status == "retry" and "Teams webhook answered HTTP 503" in (first.outcomes[0].error or "")
    assert again.outcomes[0].status == "sent" and len(received) == 1
    assert refused.outcomes[0].status == "failed" and "refused the notification: HTTP 404" in (
        refused.outcomes[0].error or ""
    )
    assert insecure.outcomes[0].status == "failed" and "HTTPS" in (insecure.outcomes[0].error or "")
    for outcome in (first, refused, insecure):
        assert url not in (outcome.outcomes[0].error or "") and gone not in (outcome.outcomes[0].error or "")


def test_a_plan_names_a_teams_channel_never_its_url(tmp_path: Path):
    text = REFERENCE_PLAN.read_text().replace("  - kind: log\n", "  - kind: log\n  - kind: teams\n", 1)
    plan = parse_plan(text, env={}).plan
    assert TEAMS in plan.notifications
    with pytest.raises(PlanError) as caught:
        parse_plan(
            text.replace("  - kind: teams\n", "  - kind: teams\n    url: https://prod.logic.azure.com/x?sig=K\n"),
            env={},
        )
    assert "notifications[1].teams: a teams channel carries no url" in str(caught.value)
    assert "BPO_TEAMS_WEBHOOK_URL" in str(caught.value) and "sig=K" not in str(caught.value)
    connections = load_connections(Path(__file__).resolve().parent.parent / "examples" / "connections.yaml")
    with pytest.raises(PlanError) as closed:
        parse_plan(
            text.replace("  - kind: teams\n", "  - kind: teams\n    connection: acme-ops-hook\n"),
            env={},
            connections=connections,
        )
    assert "connection 'acme-ops-hook' is not open to client 'ACME Corp'" in str(closed.value)
    assert "notifications[1].connection" in str(closed.value)


@pytest.fixture
def teams():
    with webhook_receiver() as (url, received):
        yield url, received


@pytest.fixture
def settings(tmp_path, teams) -> Settings:
    """This test's settings, the deployment's Teams webhook the receiver on loopback."""
    return Settings(
        BPO_DATA_DIR=tmp_path, BPO_TASK_QUEUE=f"tq-{tmp_path.name}", BPO_TEAMS_WEBHOOK_URL=teams[0], BPO_WEB_URL=WEB
    )


async def test_a_running_transition_posts_each_request_as_a_card_with_the_facts_the_rules_give(
    env, worker, settings, reference_plan: Plan, teams
):
    plan = reference_plan.model_copy(update={"notifications": [TEAMS]})
    tid = await start_transition(env.client, plan, task_queue=settings.task_queue)
    received = teams[1]
    for _ in range(400):
        cards = [card_of(r) for r in received]
        asked = [c for c in cards if c.get("actions", [{}])[0].get("title") == "Open the gate"]
        if len(asked) >= 4:
            break
        await asyncio.sleep(0.05)
    ours = next(c for c in asked if c["actions"][0]["url"] == f"{WEB}/t/{tid}/gates/{GATE}")
    facts = facts_of(ours)
    assert facts["Waits on"] == "Li Chen" and facts["Needs"] == "0/1 approvals" and facts["Signed"] == "nobody yet"
    assert facts["Due"].endswith(" UTC"), "the phase's due date, as people read it"
    assert ours["body"][0]["text"] == "Gap analysis approved"
    with Session(make_engine(settings.audit_url)) as session:
        channels = {r.detail["channel"] for r in read_trail(tid, session=session) if r.kind == "notification_sent"}
    assert channels == {"teams"}
    assert json.dumps(ours).count("Action.") == 1, "one button, opening the page: no decision in Teams"
