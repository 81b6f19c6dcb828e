"""Mail that reads like mail, received by a real SMTP server on loopback and read back with
``email``: a plain-text and an HTML part saying the same, a button that is the person's own
sign-in link, an approval request's due date as an ``.ics`` with the gate's stable UID, and a
notice to several people sent to each alone with their own link."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any

import httpx
import icalendar
from sqlmodel import Session
from temporalio.testing import ActivityEnvironment

from activities.notify import NotifyActivities
from infra.links import digest
from infra.transport import Transport
from models.deliveries import Delivery, Notice, Recipient
from models.plan import EmailChannel
from models.web_tables import SignInLink
from tests.receivers import smtp_receiver

WEB = "https://bpo.acme.example"
CHANNEL = EmailChannel(kind="email", smtp="${BPO_SMTP_URL}", sender="transitions@acme.example")
DUE = datetime(2027, 1, 22, 17, 0, tzinfo=UTC)
LI = Recipient(id="li@acme.example", name="Li Chen", email="li@acme.example")
RAJ = Recipient(id="raj@northstar.example", name="Raj Patel", email="raj@northstar.example")
MO = Recipient(id="mo@acme.example", name="Mo <Ops> & Co", email="mo@acme.example")


def request(**detail: Any) -> Notice:
    """An approval request as the rules write it since ``notice-facts-2026-12``."""
    return Notice(
        id="t1/1/3",
        transition_id="t1",
        kind="approval_requested",
        subject="[ACME Corp] your decision: Gap analysis approved (Strategic planning)",
        text="Li Chen, 'Tier 1 <b>support</b>' waits on you to sign off the gate 'Gap analysis approved'.",
        at=datetime(2027, 1, 11, 9, 0, tzinfo=UTC),
        recipients=[LI],
        detail={
            "phase": "planning",
            "gate": "gap_analysis_approved",
            "path": "/t/t1/gates/gap_analysis_approved",
            "gate_name": "Gap analysis approved",
            "needs": "0/1 approvals",
            "signed": [],
            "due": DUE.isoformat(),
            **detail,
        },
    )


async def mailed(engine: Any, *notices: Notice) -> list[EmailMessage]:
    """Deliver ``notices`` by mail through the deployment's mailer; the messages received."""
    with smtp_receiver() as (url, received):
        async with httpx.AsyncClient() as http:
            notify = NotifyActivities(engine, http, Transport(mailer=url, web_url=WEB))
            for notice in notices:
                await ActivityEnvironment().run(notify.deliver, Delivery(notice=notice, channel=CHANNEL))
    for envelope in received:
        assert len(envelope.rcpt_tos) == 1, "each mail goes to one person"
    return [message_from_bytes(e.content, policy=policy.default) for e in received]  # type: ignore[misc]


def parts(mail: EmailMessage) -> tuple[str, str]:
    plain, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert plain is not None and html is not None, "a plain-text part and an HTML part"
    return plain.get_content(), html.get_content()


class Page(HTMLParser):
    """What an HTML mail is made of: its tags, attributes and text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for t, attrs in self.tags if t == tag]


def sign_in_link(text: str) -> str:
    found = re.search(rf"{re.escape(WEB)}/login/link/[\w-]+", text)
    assert found, text
    return found.group(0)


async def test_an_approval_request_is_plain_text_and_accessible_html_with_the_same_facts_and_a_button(engine):
    (mail,) = await mailed(engine, request())
    assert mail.get_content_type() == "multipart/mixed" and mail["To"] == "li@acme.example"
    plain, html = parts(mail)
    page = Page(html)
    assert page.all("html")[0]["lang"] == "en"
    assert [t for t, _ in page.tags if t in ("h1", "h2")][0] == "h1", "one main heading first"
    heading = html.split("<h1", 1)[1].split("</h1>", 1)[0]
    assert "Gap analysis approved" in heading
    for fact in ("Gap analysis approved", "0/1 approvals", "nobody yet", "Fri 22 Jan 2027 17:00 UTC", "Li Chen"):
        assert fact in plain and fact in "".join(page.text), fact
    assert page.all("th") and all(th.get("scope") == "row" for th in page.all("th")), (
        "facts as a table with row headers"
    )

    link = sign_in_link(plain)
    buttons = [a for a in page.all("a") if a.get("href") == link]
    assert buttons and "background" in (buttons[0].get("style") or ""), "the button is the same link"
    assert "Decide on the gate" in html

    assert not page.all("img") and not re.search(r"""(src|background)=["']?https?:""", html), "nothing remote"
    assert "<b>support</b>" not in html and "&lt;b&gt;support&lt;/b&gt;" in html, "the plan's words escaped"
    assert "Tier 1 <b>support</b>" in plain, "and said as written in the plain text"

    with Session(engine) as session:  # the database may hold other tests' links
        minted = session.get(SignInLink, digest(link.rsplit("/", 1)[1]))
    assert minted is not None and minted.address == "li@acme.example"
    assert minted.next_path == "/t/t1/gates/gap_analysis_approved", "the link leads to the gate's page"


async def test_an_approval_request_carries_its_due_date_as_an_ics_with_the_gates_stable_uid(engine):
    first, again = await mailed(engine, request(), request().model_copy(update={"id": "t1/2/9"}))
    events = []
    for mail in (first, again):
        (attached,) = list(mail.iter_attachments())
        assert attached.get_content_type() == "text/calendar" and attached.get_filename() == "due.ics"
        assert attached.get_param("method") == "PUBLISH"
        calendar = icalendar.Calendar.from_ical(attached.get_content())
        assert calendar["method"] == "PUBLISH"
        (event,) = calendar.walk("VEVENT")
        events.append(event)
    event = events[0]
    assert str(event["uid"]) == "t1-due-planning-gap_analysis_approved@bpo-transition"
    assert str(events[1]["uid"]) == str(event["uid"]), "the same gate, the same calendar entry"
    assert event.decoded("dtstart") == DUE
    assert str(event["summary"]) == "Gap analysis approved due"
    assert str(event["url"]) == f"{WEB}/t/t1/gates/gap_analysis_approved"
    assert "/login/link/" not in attached.get_content(), "a calendar entry is shared: it carries no sign-in link"


async def test_a_notice_to_several_people_sends_each_their_own_mail_with_their_own_link(engine):
    group = Notice(
        id="t1/1/5",
        transition_id="t1",
        kind="escalation",
        subject="[ACME Corp] Strategic planning is overdue",
        text="Phase 'Strategic planning' was due 2d ago.",
        at=datetime(2027, 1, 24, 9, 0, tzinfo=UTC),
        recipients=[LI, RAJ, MO, Recipient(id="nomail", name="No Mail")],
        detail={"phase": "planning"},
    )
    mails = await mailed(engine, group)
    assert sorted(m["To"] for m in mails) == sorted([LI.email, RAJ.email, MO.email])
    assert len({m["Message-ID"] for m in mails}) == 3 and {m["X-Bpo-Notification-Id"] for m in mails} == {"t1/1/5"}
    links = {}
    for mail in mails:
        plain, html = parts(mail)
        links[mail["To"]] = sign_in_link(plain)
        assert links[mail["To"]] in html and "Open the transition" in html
        assert not list(mail.iter_attachments()), "only an approval request carries a calendar entry"
    assert len(set(links.values())) == 3, "each their own link"
    for address, link in links.items():
        with Session(engine) as session:
            made = session.get(SignInLink, digest(link.rsplit("/", 1)[1]))
        assert made is not None and made.address == address and made.next_path == "/t/t1", (
            "it signs in that person, to the transition"
        )


async def test_a_request_from_before_the_facts_still_reads_with_its_link_and_no_calendar_entry(engine):
    old = request().model_copy(
        update={
            "detail": {
                "phase": "planning",
                "gate": "gap_analysis_approved",
                "path": "/t/t1/gates/gap_analysis_approved",
            }
        }
    )
    (mail,) = await mailed(engine, old)
    plain, html = parts(mail)
    assert "Gap analysis approved" in Page(html).text and sign_in_link(plain) in html
    assert "Due:" not in plain and not list(mail.iter_attachments())
