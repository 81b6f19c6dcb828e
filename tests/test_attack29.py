"""attack29: issue 29's mail, Teams cards and digests, attacked as a plan author, an approver and
someone who receives the mail. Each test is a finding, kept as a strict xfail until it is mended."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlmodel import Session, select
from temporalio.testing import ActivityEnvironment

from activities.digests import DigestActivities
from activities.notify import NotifyActivities
from bpo.commands.arguments import check_arguments
from infra.audit import read_trail
from infra.digests import choose, hold
from infra.settings import Settings
from infra.transport import Transport
from models.deliveries import Delivery
from models.digest_tables import HeldNotice
from models.digests import DigestChoice
from models.plan import EmailChannel, TeamsChannel
from starter import build_parser, parse_args
from tests.receivers import smtp_receiver, webhook_receiver
from tests.stack import free_port
from tests.test_mail import LI, WEB, request

CHANNEL = EmailChannel(kind="email", smtp="${BPO_SMTP_URL}", sender="transitions@acme.example")


async def test_an_escalation_whose_subject_carries_a_line_break_from_the_plan_still_reaches_the_person(engine):
    escalation = request().model_copy(
        update={
            "id": "t1/1/7",
            "kind": "escalation",
            "subject": "[ACME Corp\n] escalation: Strategic planning is 2 days late",
            "text": "Strategic planning is 2 days late.",
            "detail": {"phase": "planning"},
        }
    )
    with smtp_receiver() as (url, received):
        async with httpx.AsyncClient() as http:
            notify = NotifyActivities(engine, http, Transport(mailer=url, web_url=WEB))
            await ActivityEnvironment().run(notify.deliver, Delivery(notice=escalation, channel=CHANNEL))
    assert len(received) == 1, "the escalation is mailed"
    mail = message_from_bytes(received[0].content, policy=policy.default)
    assert "escalation" in str(mail["Subject"])


async def test_an_approval_request_due_before_the_next_digest_is_mailed_at_once(engine):
    now = datetime.now(UTC)
    # The digest hour is this hour: the next digest is about a day away; the gate is due in two hours.
    choose(engine, LI.email or "", DigestChoice(mode="daily", hour=now.hour, zone="UTC"), "web-link")
    urgent = request(due=(now + timedelta(hours=2)).isoformat()).model_copy(update={"at": now})
    with smtp_receiver() as (url, received):
        async with httpx.AsyncClient() as http:
            notify = NotifyActivities(engine, http, Transport(mailer=url, web_url=WEB))
            await ActivityEnvironment().run(notify.deliver, Delivery(notice=urgent, channel=CHANNEL))
    assert [e.rcpt_tos for e in received] == [[LI.email]], "mailed now, not a day after its due"


class SlowMailer:
    """A real SMTP server on loopback that holds its answer to the first digest until a second
    arrives (or a few seconds pass): a mailer as slow as a busy relay at eight in the morning."""

    def __init__(self) -> None:
        self.received: list[Any] = []
        self.first = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.received.append(envelope)
        self.first.set()
        for _ in range(60):  # up to three seconds for a second run's copy to arrive
            if len(self.received) > 1:
                break
            await asyncio.sleep(0.05)
        return "250 OK"


def test_two_digest_runs_at_once_send_a_persons_digest_once(engine):
    choose(engine, LI.email or "", DigestChoice(mode="daily", hour=8, zone="UTC"), "web-link")
    assert hold(engine, request(), [LI]) == [LI]
    with Session(engine) as session:  # held yesterday: due at this morning's digest
        for item in session.exec(select(HeldNotice)).all():
            item.held_at -= timedelta(days=1)
            session.add(item)
        session.commit()
    mailer = SlowMailer()
    port = free_port()
    controller = Controller(mailer, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        digests = DigestActivities(
            engine, Transport(mailer=f"smtp://127.0.0.1:{port}", web_url=WEB), "bpo@acme.example"
        )
        now = datetime.now(UTC)
        first = threading.Thread(target=digests.send_due, args=(now,))
        first.start()
        assert mailer.first.wait(10), "the first run mails the digest"
        digests.send_due(now)  # the retried run, while the first still waits on the mailer
        first.join(20)
    finally:
        controller.stop()
    assert [e.rcpt_tos for e in mailer.received] == [[LI.email]], "one digest, not two"


async def test_the_teams_webhooks_key_never_reaches_the_workers_log(engine, caplog):
    caplog.set_level(logging.INFO)  # the worker's default level (infra.logs.configure, level="info")
    with webhook_receiver() as (url, received):
        async with httpx.AsyncClient() as http:
            notify = NotifyActivities(engine, http, Transport(teams_webhook=url + "?sig=S3CRET-K3Y", web_url=WEB))
            await ActivityEnvironment().run(
                notify.deliver, Delivery(notice=request(), channel=TeamsChannel(kind="teams"))
            )
    assert len(received) == 1, "the card was posted"
    leaked = [r.getMessage() for r in caplog.records if "S3CRET-K3Y" in r.getMessage()]
    assert leaked == [], "the webhook's key is in the log"


class RefusingMailer:
    """A real SMTP server on loopback that refuses one address with ``answer``: for good (550), as
    a mailbox that was closed is refused, or for now (450), as a full one."""

    def __init__(self, refused: str, answer: str = "550 5.1.1 mailbox unavailable") -> None:
        self.refused = refused
        self.answer = answer
        self.tries = 0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:  # noqa: N802
        if address == self.refused:
            self.tries += 1
            return self.answer
        envelope.rcpt_tos.append(address)
        return "250 OK"


def three_hourly_digest_runs(engine: Any, mailer: RefusingMailer) -> None:
    """Li chose a daily digest, a request was held for it yesterday, and three hourly runs go."""
    choose(engine, LI.email or "", DigestChoice(mode="daily", hour=8, zone="UTC"), "web-link")
    assert hold(engine, request(), [LI]) == [LI]
    with Session(engine) as session:  # held yesterday: due at this morning's digest
        for item in session.exec(select(HeldNotice)).all():
            item.held_at -= timedelta(days=1)
            session.add(item)
        session.commit()
    port = free_port()
    controller = Controller(mailer, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        digests = DigestActivities(
            engine, Transport(mailer=f"smtp://127.0.0.1:{port}", web_url=WEB), "bpo@acme.example"
        )
        now = datetime.now(UTC)
        for hour in range(3):
            digests.send_due(now + timedelta(hours=hour))
    finally:
        controller.stop()


async def notices_listed(engine: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any, *argv: str) -> str:
    """What `bpo notices` prints (its parser, its checks, its function), reading ``engine``'s
    database with no Temporal server to reach."""
    import bpo.commands.notices as notices

    async def away(_settings: Settings) -> Any:
        raise ConnectionError("no Temporal server in this test")

    monkeypatch.setattr(notices, "client_for", away)
    parser = build_parser()
    args = parse_args(parser, ["notices", *argv])
    check_arguments(parser, args)
    capsys.readouterr()
    await notices.cmd_notices(args, Settings(DATABASE_URL=engine.url.render_as_string(hide_password=False)))
    return str(capsys.readouterr().out)


async def test_a_digest_refused_for_good_is_tried_once_and_bpo_notices_says_it_never_arrived(
    engine, monkeypatch, capsys
):
    mailer = RefusingMailer(LI.email or "")
    await asyncio.to_thread(three_hourly_digest_runs, engine, mailer)
    assert mailer.tries == 1, "refused for good: not tried again every hour"
    with Session(engine) as session:
        (item,) = session.exec(select(HeldNotice)).all()
    assert item.sent_at is None and item.refused_at is not None
    assert item.refused_why == "550 5.1.1 mailbox unavailable"
    with Session(engine) as session:  # the transition's own chain is the transition's to write
        assert read_trail("t1", session=session) == []

    (listed,) = json.loads(await notices_listed(engine, monkeypatch, capsys, "t1", "--json"))
    assert listed["notice"] == "t1/1/3" and listed["channel"] == "digest" and listed["state"] == "refused"
    assert listed["recipients"] == [LI.id] and listed["refused"] == {LI.id: "550 5.1.1 mailbox unavailable"}
    shown = await notices_listed(engine, monkeypatch, capsys, "t1", "--failed")
    assert f"t1/1/3 ({request().subject}) never reached {LI.id}: their mail server refused the digest" in shown
    assert "(550 5.1.1 mailbox unavailable); it is not tried again" in shown


async def test_a_digest_refused_for_now_is_tried_again_the_next_hour(engine):
    mailer = RefusingMailer(LI.email or "", "450 4.2.2 mailbox full")
    await asyncio.to_thread(three_hourly_digest_runs, engine, mailer)
    assert mailer.tries == 3, "a temporary refusal is tried again each hour"
    with Session(engine) as session:
        (item,) = session.exec(select(HeldNotice)).all()
    assert item.sent_at is None and item.refused_at is None, "it still waits for a digest"
