"""The audit store against a real SQLite database, and notifications to real local receivers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes

import httpx
import pytest
from sqlmodel import Session, create_engine
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.audit import AuditActivities
from activities.notify import NotifyActivities
from activities.outbox import OutboxActivities
from infra.audit import read_trail, write_entries
from infra.db import make_engine
from infra.transport import Transport
from models.deliveries import AuditBatch, AuditEntry, Delivery, Flush, Notice, Recipient
from models.plan import EmailChannel, LogChannel, WebhookChannel
from tests.receivers import smtp_receiver, webhook_receiver

AT = datetime(2027, 1, 5, 9, 30, tzinfo=UTC)


def entry(seq: int, kind: str = "approved") -> AuditEntry:
    return AuditEntry(id=f"t1/{seq}", transition_id="t1", kind=kind, phase="planning", gate="g", actor="li", at=AT)


def notice() -> Notice:
    return Notice(
        id="t1/7",
        transition_id="t1",
        kind="escalation",
        subject="[ACME Corp] Strategic planning is overdue",
        text="Phase 'Strategic planning' was due 2d ago.",
        at=AT,
        recipients=[Recipient(id="li@acme.example", name="Li Chen", email="li@acme.example")],
        detail={"phase": "planning"},
    )


def test_the_schema_comes_from_migrations_and_a_database_made_without_them_is_adopted(tmp_path):
    from sqlalchemy import inspect
    from sqlmodel import SQLModel

    fresh = make_engine(f"sqlite:///{tmp_path}/fresh.db")
    assert {"audit_record", "alembic_version"} <= set(inspect(fresh).get_table_names())
    old_url = f"sqlite:///{tmp_path}/old.db"
    SQLModel.metadata.create_all(create_engine(old_url))  # as the first releases made it
    adopted = make_engine(old_url)
    with Session(adopted) as session:
        write_entries([entry(1)], session=session)
        assert [r.event_id for r in read_trail("t1", session=session)] == ["t1/1"]


def test_a_retried_audit_batch_writes_each_entry_once(engine):
    audit = AuditActivities(engine)
    assert audit.record(AuditBatch(entries=[entry(1), entry(2)])) == 2
    assert audit.record(AuditBatch(entries=[entry(1), entry(2), entry(3, "gate_passed")])) == 1
    with Session(engine) as session:
        trail = read_trail("t1", session=session)
    assert [(r.event_id, r.kind, r.actor) for r in trail] == [
        ("t1/1", "approved", "li"),
        ("t1/2", "approved", "li"),
        ("t1/3", "gate_passed", "li"),
    ]
    assert trail[0].at == AT


def test_trail_keeps_order_within_the_same_moment(engine):
    with Session(engine) as session:
        write_entries([entry(n) for n in (10, 9, 2, 1)], session=session)
        assert [r.event_id for r in read_trail("t1", session=session)] == ["t1/1", "t1/2", "t1/9", "t1/10"]


async def test_webhook_posts_the_notice_as_json_with_its_stable_id(engine):
    with webhook_receiver() as (url, received):
        async with httpx.AsyncClient() as http:
            notify = NotifyActivities(engine, http)
            delivery = Delivery(notice=notice(), channel=WebhookChannel(kind="webhook", url=url))
            await ActivityEnvironment().run(notify.deliver, delivery)
            await ActivityEnvironment().run(notify.deliver, delivery)  # a retry
    assert [r["body"]["id"] for r in received] == ["t1/7", "t1/7"]
    assert received[0]["headers"]["Idempotency-Key"] == "t1/7"
    assert received[0]["body"]["subject"] == "[ACME Corp] Strategic planning is overdue"
    with Session(engine) as session:
        sent = [r for r in read_trail("t1", session=session) if r.kind == "notification_sent"]
    assert [(r.event_id, r.detail["channel"]) for r in sent] == [("t1/7/webhook", "webhook")]


async def test_webhook_that_refuses_fails_for_good_and_one_that_is_down_is_retried(engine):
    async with httpx.AsyncClient() as http:
        notify = NotifyActivities(engine, http)
        with webhook_receiver(fail_first=1, fail_status=404) as (url, _):
            with pytest.raises(ApplicationError) as refused:
                await ActivityEnvironment().run(
                    notify.deliver, Delivery(notice=notice(), channel=WebhookChannel(kind="webhook", url=url))
                )
        assert refused.value.non_retryable and refused.value.type == "BadChannel"
        with webhook_receiver(fail_first=1, fail_status=503) as (url, received):
            delivery = Delivery(notice=notice(), channel=WebhookChannel(kind="webhook", url=url))
            with pytest.raises(ApplicationError) as down:
                await ActivityEnvironment().run(notify.deliver, delivery)
            assert not down.value.non_retryable and url not in str(down.value)
            await ActivityEnvironment().run(notify.deliver, delivery)
        assert len(received) == 1


async def test_email_goes_to_every_recipient_with_a_stable_message_id(engine):
    with smtp_receiver() as (url, received):
        async with httpx.AsyncClient() as http:
            notify = NotifyActivities(engine, http, Transport(mailer=url))
            channel = EmailChannel(kind="email", smtp="${BPO_SMTP_URL}", sender="transitions@acme.example")
            await ActivityEnvironment().run(notify.deliver, Delivery(notice=notice(), channel=channel))
    assert len(received) == 1
    assert received[0].rcpt_tos == ["li@acme.example"]
    message = message_from_bytes(received[0].content)
    assert message["Subject"] == "[ACME Corp] Strategic planning is overdue"
    assert message["X-Bpo-Notification-Id"] == "t1/7"


async def test_log_channel_needs_no_receiver(engine):
    async with httpx.AsyncClient() as http:
        notify = NotifyActivities(engine, http)
        await ActivityEnvironment().run(notify.deliver, Delivery(notice=notice(), channel=LogChannel(kind="log")))
    with Session(engine) as session:
        assert [r.kind for r in read_trail("t1", session=session)] == ["notification_sent"]


async def test_a_flush_writes_the_audit_then_delivers_once_even_when_tried_again(engine):
    with smtp_receiver() as (url, received):
        async with httpx.AsyncClient() as http:
            mailer = Transport(mailer=url)
            flush = OutboxActivities(NotifyActivities(engine, http, mailer), timedelta(hours=24))
            channel = EmailChannel(kind="email", smtp="${BPO_SMTP_URL}", sender="transitions@acme.example")
            batch = Flush(audit=[entry(1)], deliveries=[Delivery(notice=notice(), channel=channel)])
            first = await ActivityEnvironment().run(flush.flush, batch)
            again = await ActivityEnvironment().run(flush.flush, batch)  # a worker lost mid-flush
    assert [o.status for o in first.outcomes] == [o.status for o in again.outcomes] == ["sent"]
    assert len(received) == 1, "a delivery already audited as sent is not sent again"
    assert first.give_up_seconds == 86400 and first.audit_error is None
    with Session(engine) as session:
        assert sorted(r.kind for r in read_trail("t1", session=session)) == ["approved", "notification_sent"]


async def test_a_flush_says_which_deliveries_to_try_again_and_which_failed_for_good(engine):
    async with httpx.AsyncClient() as http:
        flush = OutboxActivities(NotifyActivities(engine, http), timedelta(hours=1))
        with (
            webhook_receiver(fail_first=1, fail_status=404) as (refusing, _),
            webhook_receiver(fail_first=1, fail_status=503) as (down, _),
        ):
            hooks = [WebhookChannel(kind="webhook", url=u) for u in (refusing, down, "${BPO_WEBHOOK_URL}")]
            batch = Flush(deliveries=[Delivery(notice=notice(), channel=c) for c in hooks])
            flushed = await ActivityEnvironment().run(flush.flush, batch)
    assert [o.status for o in flushed.outcomes] == ["failed", "retry", "skipped"]
    assert "HTTP 404" in (flushed.outcomes[0].error or "") and flushed.give_up_seconds == 3600


async def test_a_flush_with_the_audit_database_away_still_delivers_and_hands_the_rows_back():
    away = create_engine("postgresql+psycopg://bpo@127.0.0.1:1/audit")  # nothing listens there
    with webhook_receiver() as (url, received):
        async with httpx.AsyncClient() as http:
            flush = OutboxActivities(NotifyActivities(away, http), timedelta(hours=24))
            delivery = Delivery(notice=notice(), channel=WebhookChannel(kind="webhook", url=url))
            flushed = await ActivityEnvironment().run(flush.flush, Flush(audit=[entry(1)], deliveries=[delivery]))
    assert flushed.audit_error and "audit database" in flushed.audit_error
    (outcome,) = flushed.outcomes
    assert outcome.status == "sent" and len(received) == 1
    assert outcome.entry is not None and outcome.entry.id == "t1/7/webhook", "the workflow writes it later"


async def test_a_channel_switched_off_on_the_worker_is_warned_about_once_not_per_notice(engine):
    from structlog.testing import capture_logs

    hook = WebhookChannel(kind="webhook", url="${BPO_WEBHOOK_URL}")
    async with httpx.AsyncClient() as http:
        flush = OutboxActivities(NotifyActivities(engine, http), timedelta(hours=1))
        with capture_logs() as logs:
            for n in range(3):
                batch = Flush(deliveries=[Delivery(notice=notice().model_copy(update={"id": f"t1/{n}"}), channel=hook)])
                flushed = await ActivityEnvironment().run(flush.flush, batch)
                assert [o.status for o in flushed.outcomes] == ["skipped"]
    skipped = [line for line in logs if line["event"] == "notification_skipped"]
    assert [line["log_level"] for line in skipped] == ["warning", "debug", "debug"]
    assert "BPO_WEBHOOK_URL is not set" in skipped[0]["reason"]
