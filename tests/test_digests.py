"""Daily digests: a person who chose one gets no mail for an approval request (its delivery is
audited ``deferred_to_digest``, anchored like a sent one) while a reminder still comes at once;
the hourly schedule, triggered here on a real dev server, mails them one digest with every held
item through a real SMTP receiver; and ``/me`` sets and shows the choice."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.notify import NotifyActivities
from activities.outbox import OutboxActivities
from bpo.anchors import read_record
from bpo.commands.verifying import verify_trail
from bpo.web.app import create_app
from bpo.web.deps import Web
from infra.audit import read_chain, read_trail
from infra.db import make_engine
from infra.digest_schedule import ensure_digest_schedule, schedule_id
from infra.digests import choice_of, choose, claim, hold, mark_refused
from infra.links import mint_link
from infra.settings import Settings
from infra.transport import Transport
from models.deliveries import Delivery, Flush, Notice
from models.digest_tables import HeldNotice
from models.digests import CLAIM_LEASE, DigestChoice, DigestsSent, last_slot, next_slot
from models.plan import EmailChannel, Plan
from tests.conftest import running_worker
from tests.receivers import smtp_receiver
from tests.test_cli_json import bpo  # noqa: F401 - the fixture
from tests.test_mail import LI, RAJ, WEB, parts, request
from tests.web_client import csrf_of, text_of
from workflows.digests import SEND_TIMEOUT

CHANNEL = EmailChannel(kind="email", smtp="${BPO_SMTP_URL}", sender="transitions@acme.example")
DAILY = DigestChoice(mode="daily", hour=8, zone="UTC")


def reminder() -> Notice:
    return request().model_copy(
        update={"id": "t1/1/9", "kind": "reminder", "subject": "[ACME Corp] reminder: Gap analysis approved"}
    )


def received_mails(received: list[Any]) -> list[EmailMessage]:
    return [message_from_bytes(e.content, policy=policy.default) for e in received]  # type: ignore[misc]


async def flushed(engine: Any, url: str, *notices: Notice, nonce: str = "n-1") -> list[str]:
    """One outbox flush delivering ``notices`` by mail; each delivery's outcome."""
    async with httpx.AsyncClient() as http:
        outbox = OutboxActivities(NotifyActivities(engine, http, Transport(mailer=url, web_url=WEB)), timedelta(hours=1))
        batch = Flush(deliveries=[Delivery(notice=n, channel=CHANNEL) for n in notices], nonce=nonce)
        answer = await ActivityEnvironment().run(outbox.flush, batch)
    return [o.status for o in answer.outcomes]


async def test_an_approval_request_waits_for_the_digest_audited_deferred_while_a_reminder_comes_at_once(engine):
    choose(engine, LI.email or "", DAILY, "web-link")
    with smtp_receiver() as (url, received):
        assert await flushed(engine, url, request(), reminder()) == ["sent", "sent"]
        mails = received_mails(received)
        assert [m["Subject"] for m in mails] == [reminder().subject], "only the reminder is mailed"
        # The flush tried again (a worker lost before Temporal kept its answer): nothing is mailed
        # or held twice, the deferred row is taken as this delivery's.
        assert await flushed(engine, url, request(), reminder()) == ["sent", "sent"]
        assert len(received) == 1
    with Session(engine) as session:
        rows = {r.event_id: r for r in read_trail("t1", session=session)}
        held = session.exec(select(HeldNotice)).all()
    deferred, sent = rows["t1/1/3/email"], rows["t1/1/9/email"]
    assert deferred.kind == "deferred_to_digest" and deferred.detail["held"] == [LI.id]
    assert deferred.detail["about"] == "approval_requested" and deferred.position is not None, "chained like a sent row"
    assert sent.kind == "notification_sent" and "held" not in sent.detail
    assert [(h.person, h.notice_id, h.sent_at) for h in held] == [("li@acme.example", "t1/1/3", None)]


async def test_a_notice_to_two_people_is_mailed_to_the_one_who_wants_each_and_held_for_the_other(engine):
    choose(engine, "LI@acme.example", DAILY, "web-link")  # addresses are kept in lower case
    both = request().model_copy(update={"recipients": [LI, RAJ]})
    with smtp_receiver() as (url, received):
        assert await flushed(engine, url, both) == ["sent"]
    assert [e.rcpt_tos for e in received] == [[RAJ.email]]
    with Session(engine) as session:
        (row,) = [r for r in read_trail("t1", session=session) if r.event_id == "t1/1/3/email"]
    assert row.kind == "notification_sent" and row.detail["held"] == [LI.id]


def test_a_digest_falls_due_at_the_hour_chosen_in_the_persons_zone():
    now = datetime(2027, 1, 11, 7, 30, tzinfo=UTC)  # 08:30 in Berlin, 02:30 in New York
    assert last_slot(now, 8, "Europe/Berlin") == datetime(2027, 1, 11, 7, 0, tzinfo=UTC)
    assert last_slot(now, 8, "America/New_York") == datetime(2027, 1, 10, 13, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="'Mars/Base' is not a time zone"):
        DigestChoice(mode="daily", hour=8, zone="Mars/Base")


def test_the_digest_tables_come_with_their_own_migration_and_go_with_it(tmp_path: Path):
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    from infra.db import MIGRATIONS

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0007_slack_links")
        assert "digest_item" not in sa.inspect(connection).get_table_names()
        command.upgrade(config, "0008_digests")
        assert {"digest_item", "digest_preference"} <= set(sa.inspect(connection).get_table_names())
        command.downgrade(config, "0007_slack_links")
        assert not {"digest_item", "digest_preference"} & set(sa.inspect(connection).get_table_names())


def test_the_next_digest_is_a_day_after_the_latest_on_the_persons_own_clock():
    # 08:30 in Berlin on the Saturday before summer time: the next 08:00 comes 22.5 hours later.
    now = datetime(2027, 3, 27, 7, 30, tzinfo=UTC)
    assert next_slot(now, 8, "Europe/Berlin") == datetime(2027, 3, 28, 6, 0, tzinfo=UTC)
    assert next_slot(now, 8, "UTC") == datetime(2027, 3, 27, 8, 0, tzinfo=UTC)


def test_a_claim_holds_off_another_run_until_its_lease_runs_out(engine):
    assert CLAIM_LEASE > SEND_TIMEOUT, "a retried run must find the first run's claim still standing"
    choose(engine, LI.email or "", DAILY, "web-link")
    assert hold(engine, request(), [LI]) == [LI]
    with Session(engine) as session:
        ids = [i.id for i in session.exec(select(HeldNotice)).all()]
    now = datetime.now(UTC)
    assert [i.id for i in claim(engine, ids, "first", now)] == ids
    assert claim(engine, ids, "second", now + timedelta(minutes=1)) == [], "claimed by a run still mailing"
    later = now + CLAIM_LEASE + timedelta(minutes=1)  # the first run died without a word
    assert [i.id for i in claim(engine, ids, "second", later)] == ids


@pytest.mark.parametrize(
    ("before", "after", "added"),
    [
        ("0008_digests", "0009_digest_claims", {"claimed_by", "claimed_at"}),
        ("0009_digest_claims", "0010_digest_refusals", {"refused_at", "refused_why"}),
    ],
)
def test_each_digest_migration_adds_its_columns_and_takes_them_away_again(
    tmp_path: Path, before: str, after: str, added: set[str]
):
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    from infra.db import MIGRATIONS

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))

    def columns(connection: Any) -> set[str]:
        return {c["name"] for c in sa.inspect(connection).get_columns("digest_item")}

    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, before)
        kept = columns(connection)
        assert not added & kept
        command.upgrade(config, after)
        assert added <= columns(connection)
        command.downgrade(config, before)
        assert columns(connection) == kept, "only its own columns go"


@pytest.fixture
def mailbox() -> Iterator[tuple[str, list[Any]]]:
    with smtp_receiver() as receiver:
        yield receiver


async def test_the_scheduled_digest_mails_each_held_item_once_with_the_persons_own_link(
    dev: WorkflowEnvironment, tmp_path: Path, mailbox: tuple[str, list[Any]]
):
    url, received = mailbox
    settings = Settings(BPO_DATA_DIR=tmp_path, BPO_TASK_QUEUE=f"tq-{uuid.uuid4()}", BPO_SMTP_URL=url, BPO_WEB_URL=WEB)
    engine = make_engine(settings.audit_url)
    choose(engine, LI.email or "", DAILY, "web-link")
    second = request(gate="slas_signed", gate_name="SLAs signed", needs="1/2 approvals").model_copy(
        update={"id": "t2/1/4", "transition_id": "t2"}
    )
    assert hold(engine, request(), [LI]) == [LI] and hold(engine, second, [LI]) == [LI]
    with Session(engine) as session:  # a day goes by: both wait from before this morning's digest hour
        for item in session.exec(select(HeldNotice)).all():
            item.held_at -= timedelta(days=1)
            session.add(item)
        session.commit()

    assert await ensure_digest_schedule(dev.client, settings.task_queue)
    assert not await ensure_digest_schedule(dev.client, settings.task_queue), "made once"
    schedule = dev.client.get_schedule_handle(schedule_id(settings.task_queue))
    async with running_worker(dev, settings):
        await schedule.trigger()
        assert await run_of(dev, schedule, 1) == DigestsSent(sent=1, items=2)
        assert not held_waiting(engine), "the items are marked sent"
        await schedule.trigger()  # nothing waits now: no second digest
        assert await run_of(dev, schedule, 2) == DigestsSent()

    (mail,) = received_mails(received)
    assert mail["To"] == LI.email and "2 notices" in mail["Subject"]
    plain, html = parts(mail)
    for fact in ("t1", "t2", "Gap analysis approved", "SLAs signed", "1/2 approvals", "Fri 22 Jan 2027 17:00 UTC"):
        assert fact in plain and fact in html, fact
    assert f"{WEB}/login/link/" in plain, "their own sign-in link"


def held_waiting(engine: Any) -> list[HeldNotice]:
    with Session(engine) as session:
        return [h for h in session.exec(select(HeldNotice)).all() if h.sent_at is None]


async def run_of(dev: WorkflowEnvironment, schedule: Any, n: int) -> DigestsSent:
    """What the schedule's ``n``-th run came to, once it has ended."""
    for _ in range(600):
        actions = (await schedule.describe()).info.recent_actions
        if len(actions) >= n:
            started = actions[n - 1].action
            handle = dev.client.get_workflow_handle(
                started.workflow_id, run_id=started.first_execution_run_id, result_type=DigestsSent
            )
            return await handle.result()
        await asyncio.sleep(0.05)
    raise AssertionError(f"the schedule never started run {n}")


@pytest.fixture
def settings(tmp_path: Path, mailbox: tuple[str, list[Any]]) -> Settings:
    """This module's worker and web app mail through the test's SMTP receiver."""
    return Settings(BPO_DATA_DIR=tmp_path, BPO_TASK_QUEUE=f"tq-{uuid.uuid4()}", BPO_SMTP_URL=mailbox[0], BPO_WEB_URL=WEB)


async def test_a_transitions_deferred_delivery_is_anchored_and_its_trail_verifies(
    launch, bpo, settings: Settings, reference_plan: Plan, mailbox: tuple[str, list[Any]], capsys  # noqa: F811
):
    engine = make_engine(settings.audit_url)
    for person in reference_plan.people:
        choose(engine, person.address or "", DAILY, "web-link")
    t = await launch(reference_plan)

    def deferred() -> list[Any]:
        with Session(engine) as session:
            return [r for r in read_chain(t.id, session=session) if r.kind == "deferred_to_digest"]

    # Each delivery writes its own row as it goes: wait for the request's, not the first one's.
    rows = await soon(lambda: [r for r in deferred() if r.detail["about"] == "approval_requested"],
                      "an approval request held for a digest")  # fmt: skip
    assert rows
    assert not [m for m in received_mails(mailbox[1]) if "your decision" in str(m["Subject"])], "no request mailed"

    async def covered() -> bool:
        record = await read_record(t.client, t.id)
        with Session(engine) as session:
            last = read_chain(t.id, session=session)[-1].position or 0
        return max((h.position for h in record.heads), default=0) >= last

    for _ in range(200):  # the flush that wrote the row records its head in the history after
        if await covered():
            break
        await asyncio.sleep(0.05)
    with Session(engine) as session:
        chain = read_chain(t.id, session=session)
    verify_trail(t.id, chain, await read_record(t.client, t.id))
    assert "matches the chain head the transition recorded in Temporal" in capsys.readouterr().out
    listed = json.loads(await bpo("notices", t.id, "--json"))
    held = [d for d in listed if d["about"] == "approval_requested" and d["channel"] == "email"]
    assert held and {d["state"] for d in held} == {"deferred_to_digest"}, "bpo notices says where they wait"


@pytest.fixture
async def app(env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    engine = make_engine(settings.audit_url)
    web_app = create_app(settings, env.client, engine)
    async with httpx.AsyncClient() as http:
        web_app.state.web = Web(settings, engine, env.client, http)
        transport = httpx.ASGITransport(app=web_app)
        async with httpx.AsyncClient(transport=transport, base_url="https://bpo.acme.example") as client:
            yield client


async def test_the_me_page_sets_and_shows_the_digest_choice(app: httpx.AsyncClient, settings: Settings):
    engine = make_engine(settings.audit_url)
    token = mint_link(engine, "li@acme.example", "/", timedelta(hours=1))
    opened = await app.get(f"/login/link/{token}")
    assert (await app.post(f"/login/link/{token}", data={"csrf": csrf_of(opened.text)})).status_code == 303

    page = await app.get("/me")
    assert page.status_code == 200 and 'value="each" checked' in page.text and "Nothing waits" in text_of(page.text)
    csrf = csrf_of(page.text)
    forged = await app.post("/me/digest", data={"csrf": "not-it", "mode": "daily", "hour": "7", "zone": "UTC"})
    assert forged.status_code == 403 and choice_of(engine, "li@acme.example").mode == "each"
    wrong = await app.post("/me/digest", data={"csrf": csrf, "mode": "daily", "hour": "7", "zone": "Mars/Base"})
    assert wrong.status_code == 400 and "'Mars/Base' is not a time zone" in text_of(wrong.text)
    assert choice_of(engine, "li@acme.example").mode == "each", "nothing kept from a wrong form"

    saved = await app.post("/me/digest", data={"csrf": csrf, "mode": "daily", "hour": "7", "zone": "Europe/London"})
    assert saved.status_code == 303 and saved.headers["location"] == "/me?saved=1"
    shown = text_of((await app.get("/me?saved=1")).text)
    assert "Saved: a daily digest at 07:00 Europe/London" in shown
    assert choice_of(engine, "LI@acme.example") == DigestChoice(mode="daily", hour=7, zone="Europe/London")
    hold(engine, request(), [LI])
    assert "1 notice waits for your next digest" in text_of((await app.get("/me")).text)


async def test_the_me_page_says_a_digest_was_refused_by_the_persons_mail_server(app: httpx.AsyncClient, settings: Settings):
    engine = make_engine(settings.audit_url)
    choose(engine, "li@acme.example", DAILY, "web-link")
    hold(engine, request(), [LI])
    ids = [i.id for i in held_waiting(engine)]
    claim(engine, ids, "run-1", datetime.now(UTC))
    mark_refused(engine, ids, datetime.now(UTC), "run-1", "550 5.1.1 <li@acme.example>: mailbox\r\nunavailable " + "x" * 300)
    token = mint_link(engine, "li@acme.example", "/", timedelta(hours=1))
    opened = await app.get(f"/login/link/{token}")
    assert (await app.post(f"/login/link/{token}", data={"csrf": csrf_of(opened.text)})).status_code == 303

    page = await app.get("/me")
    shown = text_of(page.text)
    assert "Your digest did not reach you. Your mail server refused it on" in shown
    assert "550 5.1.1 <li@acme.example>: mailbox unavailable xxx" in shown, "its words, on one line"
    assert "x" * 200 not in shown, "cut short"
    assert "Nothing waits for a digest" in shown, "refused, not waiting"
    # Choosing again (a mail a notice, or the digest once the address is mended) is acting on it.
    saved = await app.post("/me/digest", data={"csrf": csrf_of(page.text), "mode": "each", "hour": "8", "zone": "UTC"})
    assert saved.status_code == 303
    assert "did not reach you" not in text_of((await app.get("/me")).text)


async def soon(check: Any, what: str) -> Any:
    """The first truthy answer of ``check``, polled (deliveries finish after the start)."""
    for _ in range(600):
        if found := check():
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"never: {what}")
