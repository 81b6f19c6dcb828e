"""Linking a Slack user binds only the person Slack names: when a signed-in person confirms a
one-time link, the web app asks Slack (``users.info``, with the bot token) for the pressing user's
address and binds only if it is the person's own. A link sent on to someone else, a bot, a
deactivated or unconfirmed account, or Slack that cannot be asked: refused in words, nothing bound,
and the Slack user's presses still decide nothing. The web app in process, Slack a stand-in on
loopback."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pytest

from bpo.web.slack_links import LinkRefused, SlackAway, ask_slack, owned_by
from infra.settings import Settings
from models.slack import SlackMember
from models.web_tables import SlackLinkToken
from tests.slack_fake import FakeSlack, member, press, signed
from tests.stack import LI
from tests.test_slack import app, keys, settings, sign_in, slack, soon  # noqa: F401 - the fixtures
from tests.web_client import csrf_of, text_of

MESSAGE = {
    "text": "Gap analysis approved: approval requested",
    "blocks": [{"type": "actions", "elements": [{"action_id": "bpo_approve", "value": '{"t":"t-1","g":"g"}'}]}],
}
"""An approval request as posted; an unlinked press is offered a link before the transition is read."""
MALLORY = "U0MAL0001"


async def offered(app: httpx.AsyncClient, slack: FakeSlack, user: str) -> str:  # noqa: F811
    """``user`` presses Approve in Slack unlinked; the one-time link they are offered."""
    before = len(slack.responses)
    body, headers = signed(press(MESSAGE, "bpo_approve", user, slack.response_url(1), action_ts=f"1700000001.{user}"))
    assert (await app.post("/integrations/slack/actions", content=body, headers=headers)).status_code == 200
    answer = (await soon(lambda: slack.responses[before:], "a link offered"))[0]["text"]
    found = re.search(r"/integrations/slack/link\?token=[\w-]+", answer)
    assert found and "not linked" in answer, answer
    return found.group(0)


async def confirm(app: httpx.AsyncClient, link: str) -> httpx.Response:  # noqa: F811
    """The signed-in person opens ``link`` and presses its Link button."""
    page = await app.get(link)
    assert page.status_code == 200, page.text
    return await app.post("/integrations/slack/link", data={"csrf": csrf_of(page.text), "token": link.split("=")[1]})


async def still_unlinked(app: httpx.AsyncClient, slack: FakeSlack, user: str) -> None:  # noqa: F811
    """Nothing was bound: the signed-in person has no Slack link, and ``user``'s press is offered one."""
    assert "No Slack account is linked" in (await app.get("/me/slack")).text
    await offered(app, slack, user)


async def test_a_link_sent_on_to_someone_else_is_refused_and_binds_nothing(env, settings, slack, app):  # noqa: F811
    slack.members[MALLORY] = member(MALLORY, "mallory@rival.example", "Mallory Grey")
    link = await offered(app, slack, MALLORY)
    # Mallory sends her link to Li, who is signed in to the web app and clicks it.
    await sign_in(app, settings, LI)
    refused = await confirm(app, link)
    assert refused.status_code == 403
    said = text_of(refused.text)
    assert "made for the Slack user U0MAL0001 (mallory), whose Slack address is not yours" in said, said
    assert "Nothing was linked" in said and "mallory@rival.example" not in said, "Mallory's address stays hers"
    assert slack.called("users.info") == [{"user": MALLORY}]
    await still_unlinked(app, slack, MALLORY)


async def test_a_link_opened_by_the_person_slack_names_binds_whatever_the_case_of_the_address(
    env,
    settings,  # noqa: F811
    slack,  # noqa: F811
    app,  # noqa: F811
):
    slack.members["U0LI00001"]["profile"]["email"] = LI.upper()
    link = await offered(app, slack, "U0LI00001")
    await sign_in(app, settings, LI)
    bound = await confirm(app, link)
    assert bound.status_code == 303 and bound.headers["location"] == "/me/slack?linked=1"
    assert "U0LI00001" in text_of((await app.get("/me/slack")).text)


@pytest.mark.parametrize(
    "away",
    [
        pytest.param(lambda fake: setattr(fake, "down", True), id="slack-down"),
        pytest.param(lambda fake: setattr(fake, "error", "fatal_error"), id="slack-refuses"),
        pytest.param(lambda fake: fake.members.pop("U0LI00001"), id="user-not-found"),
    ],
)
async def test_when_slack_cannot_be_asked_the_link_is_refused_and_binds_nothing(
    env,
    settings: Settings,  # noqa: F811
    slack,  # noqa: F811
    app,  # noqa: F811
    away,
):
    link = await offered(app, slack, "U0LI00001")
    await sign_in(app, settings, LI)
    away(slack)
    refused = await confirm(app, link)
    assert refused.status_code in (403, 503)
    said = text_of(refused.text)
    assert "nothing was linked" in said.lower() and "U0LI00001" in said, said
    await still_unlinked(app, slack, "U0LI00001")


async def test_without_the_bot_token_slack_cannot_be_asked_and_nothing_is_linked():
    now = datetime.now(UTC)
    row = SlackLinkToken(id="x", team="T0ACME001", user="U0LI00001", created_at=now, expires_at=now)
    with pytest.raises(SlackAway, match="no Slack bot token"):
        await ask_slack(None, row, LI)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"deleted": True}, "deactivated"),
        ({"is_bot": True}, "a bot"),
        ({"is_email_confirmed": False}, "not confirmed"),
        ({"profile": {"real_name": "Li Chen"}}, "users:read.email"),
    ],
)
def test_slack_must_name_a_live_human_with_the_persons_own_confirmed_address(change, why):
    assert owned_by(SlackMember.model_validate(member("U0LI00001", LI, "Li Chen")), "U0LI00001", LI.title()) is None
    with pytest.raises(LinkRefused, match=why):
        owned_by(SlackMember.model_validate(member("U0LI00001", LI, "Li Chen", **change)), "U0LI00001", LI)
