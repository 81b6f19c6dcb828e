"""Slack, both ways: a plan's ``kind: slack`` channel posts Block Kit messages through the
deployment's Slack app (a stand-in for Slack's API on loopback checks the bot token and keeps the
blocks); a button press reaches the web app signed as Slack signs it; an unlinked Slack user is
offered a one-time link that a signed-in person opens to bind it; a linked press approves as that
person, signed by the app and audited ``via: slack``, and the message is redrawn with who decided.
Anything without Slack's signature, or signed too long ago, is refused 401 and changes nothing.
Driven on the time-skipping server, the web app in process."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlmodel import Session
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.notify import NotifyActivities
from bpo.api import start_transition
from bpo.web.app import create_app
from bpo.web.deps import Web
from infra.audit import read_trail
from infra.db import make_engine, migrate
from infra.links import mint_link
from infra.settings import Settings
from infra.slack import signed_by_slack
from infra.slack_blocks import FIELD_MAX, HEADER_MAX, SECTION_MAX, notice_blocks
from infra.transport import Transport
from models.deliveries import Delivery, Notice, Recipient
from models.plan import Plan, SlackChannel
from models.signing import new_key_pair
from tests.driver import Driver
from tests.slack_fake import SECRET, TOKEN, FakeSlack, block_kit_problems, fake_slack, press, signed, submission
from tests.stack import DANA, EVE, LI
from tests.web_client import csrf_of, text_of

WEB_URL = "https://bpo.acme.example"
GATE = "gap_analysis_approved"


@pytest.fixture
def slack() -> Any:
    with fake_slack() as fake:
        yield fake


@pytest.fixture
def keys() -> tuple[str, str]:
    return new_key_pair()


@pytest.fixture
def settings(tmp_path, slack: FakeSlack, keys) -> Settings:
    """This test's settings, with the deployment's Slack app pointed at the stand-in."""
    return Settings(
        BPO_DATA_DIR=tmp_path,
        BPO_TASK_QUEUE=f"tq-{tmp_path.name}",
        BPO_SLACK_BOT_TOKEN=TOKEN,
        BPO_SLACK_SIGNING_SECRET=SECRET,
        BPO_SLACK_API_URL=slack.api,
        BPO_WEB_URL=WEB_URL,
        BPO_SIGNING_KEY=keys[0],
    )


@pytest.fixture
async def app(env, settings) -> AsyncIterator[httpx.AsyncClient]:
    """The web app over this test's server and audit database, in process: the client Slack and
    people use alike."""
    engine = make_engine(settings.audit_url)
    migrate(engine)
    web_app = create_app(settings, env.client, engine)
    async with httpx.AsyncClient() as http:
        web_app.state.web = Web(settings, engine, env.client, http)
        transport = httpx.ASGITransport(app=web_app)
        async with httpx.AsyncClient(transport=transport, base_url="https://bpo.acme.example") as client:
            yield client


async def started(env, worker, settings, reference_plan: Plan, keys) -> Driver:
    """A transition of the reference plan that posts to Slack and trusts the app's key only."""
    plan = reference_plan.model_copy(update={"notifications": [SlackChannel(kind="slack", channel="#acme-transition")]})
    tid = await start_transition(
        env.client, plan, task_queue=settings.task_queue, trusted_keys=[keys[1]], signer=settings.signer
    )
    return Driver(env, env.client, tid)


async def soon(check: Callable[[], Any], what: str) -> Any:
    """The first truthy answer of ``check``, polled (deliveries and presses finish after)."""
    for _ in range(400):
        if found := check():
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"never: {what}")


def request_for(slack: FakeSlack, gate: str) -> dict[str, Any]:
    """The approval request the worker posted for ``gate``."""
    for body in slack.called("chat.postMessage"):
        for block in body["blocks"]:
            for element in block.get("elements", []):
                if f'"g":"{gate}"' in str(element.get("value", "")):
                    return body
    return {}


async def sign_in(app: httpx.AsyncClient, settings: Settings, address: str) -> None:
    token = mint_link(make_engine(settings.audit_url), address, "/", timedelta(hours=1))
    opened = await app.get(f"/login/link/{token}")
    assert (await app.post(f"/login/link/{token}", data={"csrf": csrf_of(opened.text)})).status_code == 303


def approvals(settings: Settings, tid: str) -> list[Any]:
    with Session(make_engine(settings.audit_url)) as session:
        return [r for r in read_trail(tid, session=session) if r.kind == "approved"]


async def test_a_press_links_the_slack_user_then_approves_as_them_signed_and_audited_via_slack(
    env, worker, settings, reference_plan, keys, slack, app
):
    t = await started(env, worker, settings, reference_plan, keys)
    message = await soon(lambda: request_for(slack, GATE), "the gate's approval request posted to Slack")
    assert message["channel"] == "#acme-transition" and not slack.refused, "posted with the bot token"
    header = next(b for b in message["blocks"] if b["type"] == "header")
    assert header["text"]["text"] == "Gap analysis approved", "the gate by its name"
    buttons = {e["action_id"]: e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]}
    assert set(buttons) == {"bpo_approve", "bpo_reject", "bpo_open"}
    assert buttons["bpo_open"]["url"] == f"{WEB_URL}/t/{t.id}/gates/{GATE}"
    facts = json.dumps(message["blocks"])
    assert "Li" in facts and "due" in facts.lower(), "whom it waits on, and when it is due"

    # Li's Slack user is not linked yet: the press decides nothing and offers a link.
    body, headers = signed(press(message, "bpo_approve", "U0LI00001", slack.response_url(1)))
    assert (await app.post("/integrations/slack/actions", content=body, headers=headers)).status_code == 200
    offered = await soon(lambda: slack.responses, "an answer to the unlinked press")
    assert offered[0]["response_type"] == "ephemeral" and "not linked" in offered[0]["text"]
    link = re.search(r"https://bpo\.acme\.example(/integrations/slack/link\?token=[\w-]+)", offered[0]["text"])
    assert link, offered[0]["text"]
    assert not approvals(settings, t.id)

    # Li opens it signed in to the web app and binds that Slack user to herself.
    sent_to_login = await app.get(link.group(1))
    assert sent_to_login.status_code == 303 and sent_to_login.headers["location"].startswith("/login?next=")
    await sign_in(app, settings, LI)
    page = await app.get(link.group(1))
    assert "U0LI00001" in page.text and LI in page.text
    bound = await app.post(
        "/integrations/slack/link", data={"csrf": csrf_of(page.text), "token": link.group(1).split("=")[1]}
    )
    assert bound.status_code == 303
    assert "U0LI00001" in text_of((await app.get("/me/slack")).text)
    again = await app.post(
        "/integrations/slack/link", data={"csrf": csrf_of(page.text), "token": link.group(1).split("=")[1]}
    )
    assert again.status_code == 410 and "already used" in again.text

    # Now the press approves as Li: signed by the app, audited via slack; the message is redrawn.
    pressed = press(message, "bpo_approve", "U0LI00001", slack.response_url(2), action_ts="1700000200.000002")
    body, headers = signed(pressed)
    assert (await app.post("/integrations/slack/actions", content=body, headers=headers)).status_code == 200
    redrawn = await soon(lambda: slack.called("chat.update"), "the message redrawn with who decided")
    assert redrawn[0]["ts"] == "1700000000.000001" and redrawn[0]["channel"] == "C0ACME123"
    assert "Approved by Li" in json.dumps(redrawn[0]["blocks"])
    rows = approvals(settings, t.id)
    assert [(r.actor, r.gate, r.via) for r in rows] == [(LI, GATE, "slack")]
    assert rows[0].signature, "the app signs what a press decides"
    status = await t.status()
    assert GATE not in [g.key for g in status.gates if g.status == "open"], "the gate moved"

    # The same signed press again (a replay within the five minutes) decides nothing more.
    assert (await app.post("/integrations/slack/actions", content=body, headers=headers)).status_code == 200
    await soon(lambda: len(slack.called("chat.update")) == 2, "the replay answered with the first answer")
    assert len(approvals(settings, t.id)) == 1

    # Undone on /me/slack: the next press is offered a link again.
    mine = await app.get("/me/slack")
    link_id = re.search(r'name="link" value="([^"]+)"', mine.text)
    assert link_id
    undone = await app.post("/me/slack/unlink", data={"csrf": csrf_of(mine.text), "link": link_id.group(1)})
    assert undone.status_code == 303 and "No Slack account is linked" in (await app.get("/me/slack")).text
    body, headers = signed(press(message, "bpo_approve", "U0LI00001", slack.response_url(3), action_ts="1700000300.3"))
    await app.post("/integrations/slack/actions", content=body, headers=headers)
    await soon(lambda: len(slack.responses) == 2, "the press after unlinking answered")
    assert "not linked" in slack.responses[1]["text"]
    assert slack.called("users.info") == [{"user": "U0LI00001"}], "Slack was asked who the Slack user is"
    for method, sent in slack.calls:
        if method in ("chat.postMessage", "chat.update"):
            assert not block_kit_problems(sent["blocks"]), (method, block_kit_problems(sent["blocks"]))


async def link(
    app: httpx.AsyncClient, settings: Settings, slack: FakeSlack, message: dict, person: str, user: str
) -> None:
    """``person`` presses in Slack as ``user``, is offered a link, and binds it signed in."""
    before = len(slack.responses)
    body, headers = signed(press(message, "bpo_approve", user, slack.response_url(99), action_ts=f"1700000001.{user}"))
    await app.post("/integrations/slack/actions", content=body, headers=headers)
    offered = await soon(lambda: slack.responses[before:], "a link offered")
    found = re.search(r"/integrations/slack/link\?token=([\w-]+)", offered[0]["text"])
    assert found, offered[0]["text"]
    await sign_in(app, settings, person)
    page = await app.get(found.group(0))
    assert (
        await app.post("/integrations/slack/link", data={"csrf": csrf_of(page.text), "token": found.group(1)})
    ).status_code == 303


async def test_a_refusal_reaches_the_presser_alone_in_the_rules_words_and_changes_nothing(
    env, worker, settings, reference_plan, keys, slack, app
):
    t = await started(env, worker, settings, reference_plan, keys)
    message = await soon(lambda: request_for(slack, GATE), "the gate's approval request posted to Slack")
    await link(app, settings, slack, message, EVE, "U0EVE0001")

    body, headers = signed(press(message, "bpo_approve", "U0EVE0001", slack.response_url(2), action_ts="1700000200.2"))
    await app.post("/integrations/slack/actions", content=body, headers=headers)
    refused = await soon(lambda: [r for r in slack.responses if "Not decided" in r["text"]], "the refusal")
    assert refused[0]["response_type"] == "ephemeral" and not refused[0]["replace_original"]
    assert "needs one of the roles program_manager" in refused[0]["text"], "in the rules' words"

    body, headers = signed(press(message, "bpo_reject", "U0EVE0001", slack.response_url(3), action_ts="1700000300.3"))
    await app.post("/integrations/slack/actions", content=body, headers=headers)
    modal = (await soon(lambda: slack.called("views.open"), "the reject modal opened"))[0]
    assert modal["trigger_id"] == "1234567890.987654321.abcdef"
    body, headers = signed(submission(modal["view"], "U0EVE0001", "the gap analysis misses the voice queue"))
    answer = await app.post("/integrations/slack/actions", content=body, headers=headers)
    assert answer.status_code == 200 and answer.json()["response_action"] == "errors"
    assert "program_manager" in answer.json()["errors"]["reason"], "the refusal shows on the modal"
    assert not slack.called("chat.update") and not approvals(settings, t.id)
    assert GATE in [g.key for g in (await t.status()).gates if g.status == "open"]


async def test_reject_asks_the_reason_in_a_modal_and_its_submission_rejects_as_the_linked_person(
    env, worker, settings, reference_plan, keys, slack, app
):
    t = await started(env, worker, settings, reference_plan, keys)
    message = await soon(lambda: request_for(slack, GATE), "the gate's approval request posted to Slack")
    await link(app, settings, slack, message, LI, "U0LI00001")
    body, headers = signed(press(message, "bpo_reject", "U0LI00001", slack.response_url(2), action_ts="1700000200.2"))
    await app.post("/integrations/slack/actions", content=body, headers=headers)
    modal = (await soon(lambda: slack.called("views.open"), "the reject modal opened"))[0]["view"]
    assert modal["type"] == "modal" and "Gap analysis approved" in json.dumps(modal["blocks"])

    body, headers = signed(submission(modal, "U0LI00001", " "))
    empty = await app.post("/integrations/slack/actions", content=body, headers=headers)
    assert empty.json()["response_action"] == "errors", "a rejection needs its reason"
    body, headers = signed(
        submission(modal, "U0LI00001", "the gap analysis misses the voice queue", view_id="V0REJECT02")
    )
    answer = await app.post("/integrations/slack/actions", content=body, headers=headers)
    assert answer.status_code == 200 and not answer.content, "the modal closes"
    redrawn = await soon(lambda: slack.called("chat.update"), "the message redrawn with who rejected")
    assert "Rejected by Li Chen" in json.dumps(redrawn[0]["blocks"])
    with Session(make_engine(settings.audit_url)) as session:
        rejected = [r for r in read_trail(t.id, session=session) if r.kind == "rejected"]
    assert [(r.actor, r.via) for r in rejected] == [(LI, "slack")] and rejected[0].signature
    assert "voice queue" in json.dumps(rejected[0].detail)


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda body, headers: (body, {"Content-Type": headers["Content-Type"]}), id="unsigned"),
        pytest.param(
            lambda body, headers: signed(json.loads(httpx.QueryParams(body.decode())["payload"]), at=time.time() - 301),
            id="stale",  # signed rightly, but too long ago: a press captured and replayed later
        ),
        pytest.param(lambda body, headers: (body.replace(b"bpo_approve", b"bpo_reject"), headers), id="altered"),
        pytest.param(
            lambda body, headers: signed(
                json.loads(httpx.QueryParams(body.decode())["payload"]), secret="not-the-secret"
            ),
            id="forged",
        ),
    ],
)
async def test_a_press_without_slacks_signature_within_five_minutes_is_refused_401_and_changes_nothing(
    env, settings, slack, app, forge
):
    message = {
        "text": "x",
        "blocks": [{"type": "actions", "elements": [{"action_id": "bpo_approve", "value": '{"t":"t-1","g":"g"}'}]}],
    }
    body, headers = forge(*signed(press(message, "bpo_approve", "U0LI00001", slack.response_url(1))))
    answer = await app.post("/integrations/slack/actions", content=body, headers=headers)
    assert answer.status_code == 401
    await asyncio.sleep(0.2)  # whatever a press would set off has had its chance
    assert not slack.responses and not slack.calls


def test_slacks_signature_is_held_to_the_secret_the_body_and_five_minutes():
    body, headers = signed({"type": "block_actions"}, at=1_800_000_000)
    ts, sig = headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    assert signed_by_slack(SECRET, ts, sig, body, now=1_800_000_000 + 299)
    assert not signed_by_slack(SECRET, ts, sig, body, now=1_800_000_000 + 301)
    assert not signed_by_slack(SECRET, ts, sig, body + b"x", now=1_800_000_000)
    assert not signed_by_slack(None, ts, sig, body, now=1_800_000_000), "no secret configured: nothing is Slack's"


def test_a_plan_names_a_slack_channel_never_a_token_or_url():
    assert SlackChannel(kind="slack", channel="#acme-transition").channel == "#acme-transition"
    for wrong in ("https://hooks.slack.com/services/T/B/x", "xoxb-123", "#Bad Name"):
        with pytest.raises(ValidationError):
            SlackChannel(kind="slack", channel=wrong)


def test_notices_become_blocks_within_block_kits_limits():
    long = "x" * 5000
    ask = Notice(
        id="t1/1", transition_id="t1", kind="approval_requested", subject=long, text=long + " <!channel> & co", at="2027-01-01T00:00:00Z",
        recipients=[Recipient(id=DANA, name="Dana Whitfield")], detail={"gate": "g" * 64, "gate_name": long, "path": "/t/t1/gates/g"},
    )  # fmt: skip
    text, blocks = notice_blocks(ask, WEB_URL)
    assert len(blocks) <= 50 and len(text) <= 4000
    header = next(b for b in blocks if b["type"] == "header")
    assert len(header["text"]["text"]) <= HEADER_MAX
    for block in blocks:
        if block["type"] == "section":
            assert len(block.get("text", {}).get("text", "")) <= SECTION_MAX
            assert all(len(f["text"]) <= FIELD_MAX for f in block.get("fields", []))
    assert "<!channel>" not in json.dumps(blocks), "a plan's words never ping a channel"
    other = ask.model_copy(update={"kind": "paused", "subject": "paused", "text": "The transition is paused."})
    _, plain = notice_blocks(other, WEB_URL)
    assert [b["type"] for b in plain] == ["section", "context"] and "paused" in plain[0]["text"]["text"]


async def test_the_worker_posts_with_the_deployments_token_skips_without_it_and_keeps_slacks_refusal_for_good(
    tmp_path, slack
):
    engine = make_engine(f"sqlite:///{tmp_path}/audit.db")
    channel = SlackChannel(kind="slack", channel="#acme-transition")
    paused = Notice(
        id="t1/3", transition_id="t1", kind="paused", subject="[ACME] paused", text="Paused.", at="2027-01-01T00:00:00Z"
    )
    delivery = Delivery(notice=paused, channel=channel)
    async with httpx.AsyncClient() as http:
        off = NotifyActivities(engine, http, Transport(slack_api_url=slack.api))
        await ActivityEnvironment().run(off.deliver, delivery)
        assert not slack.calls, "a worker without BPO_SLACK_BOT_TOKEN skips the channel"
        on = NotifyActivities(engine, http, Transport(slack_token=TOKEN, slack_api_url=slack.api))
        await ActivityEnvironment().run(on.deliver, delivery)
        assert [(m, b["channel"]) for m, b in slack.calls] == [("chat.postMessage", "#acme-transition")]
        slack.error = "channel_not_found"
        with pytest.raises(ApplicationError) as refused:
            await ActivityEnvironment().run(on.deliver, delivery)
    assert refused.value.non_retryable and refused.value.message == "Slack refused chat.postMessage: channel_not_found"
