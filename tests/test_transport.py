"""How notices leave the worker, against real local receivers: signed webhooks, HTTPS outside this
machine, an egress allow-list, SMTP that keeps passwords off plain connections, refused
recipients recorded one by one."""

from __future__ import annotations

import base64
import hashlib
import hmac

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlmodel import Session
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.notify import NotifyActivities
from infra.audit import read_trail
from infra.transport import Transport
from models.deliveries import Delivery
from models.plan import EmailChannel, WebhookChannel
from tests.receivers import smtp_receiver, webhook_receiver
from tests.stack import free_port
from tests.test_activities import notice

SECRET = "whsec_" + base64.b64encode(b"a shared secret of 32 bytes!!!!!").decode()


async def deliver(engine, transport: Transport, channel) -> None:
    async with httpx.AsyncClient() as http:
        await ActivityEnvironment().run(NotifyActivities(engine, http, transport).deliver, Delivery(notice=notice(), channel=channel))


async def test_a_webhook_named_by_its_setting_is_resolved_at_the_worker_and_signed(engine):
    with webhook_receiver() as (url, received):
        transport = Transport(webhook=url + "?token=T0KEN", webhook_secret=SECRET)
        await deliver(engine, transport, WebhookChannel(kind="webhook", url="${BPO_WEBHOOK_URL}"))
    headers, body = received[0]["headers"], received[0]["raw"]
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-id"] == "t1/7" and headers["webhook-signature"] == expected


async def test_a_channel_whose_setting_this_worker_lacks_is_skipped_without_a_failure(engine):
    await deliver(engine, Transport(), WebhookChannel(kind="webhook", url="${BPO_WEBHOOK_URL}"))
    with Session(engine) as session:
        assert [r.kind for r in read_trail("t1", session=session)] == []


@pytest.mark.parametrize(
    ("url", "transport", "message"),
    [
        ("http://hooks.example/x", Transport(), "webhooks go over HTTPS; plain HTTP only to this machine"),
        ("https://hooks.example/x", Transport(allowed_hosts=["hooks.acme.example"]), "not in BPO_ALLOWED_HOSTS"),
    ],
)
async def test_a_webhook_outside_https_or_the_allowed_hosts_is_refused_for_good(engine, url, transport, message):
    with pytest.raises(ApplicationError) as refused:
        await deliver(engine, transport, WebhookChannel(kind="webhook", url=url))
    assert refused.value.non_retryable and refused.value.message.endswith(message)


async def test_an_smtp_password_never_goes_over_a_plain_connection(engine):
    with smtp_receiver() as (url, received):
        channel = EmailChannel(kind="email", smtp="${BPO_SMTP_URL}", sender="transitions@acme.example")
        transport = Transport(mailer=url.replace("smtp://", "smtp://bpo:S3CRET@"))
        with pytest.raises(ApplicationError) as refused:
            await deliver(engine, transport, channel)
    assert "offers no STARTTLS" in str(refused.value) and "S3CRET" not in str(refused.value)
    assert received == []


async def test_recipients_the_server_refuses_are_recorded_one_by_one(engine):
    class Picky:
        async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802
            if address.startswith("li@"):
                return "550 no such user"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            return "250 OK"

    port = free_port()
    controller = Controller(Picky(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        message = notice().model_copy(
            update={"recipients": [*notice().recipients, notice().recipients[0].model_copy(update={"id": "raj", "email": "raj@northstar.example"})]}
        )
        async with httpx.AsyncClient() as http:
            mailer = Transport(mailer=f"smtp://127.0.0.1:{port}")
            channel = EmailChannel(kind="email", smtp="${BPO_SMTP_URL}", sender="transitions@acme.example")
            await ActivityEnvironment().run(NotifyActivities(engine, http, mailer).deliver, Delivery(notice=message, channel=channel))
    finally:
        controller.stop()
    with Session(engine) as session:
        sent = [r.detail for r in read_trail("t1", session=session) if r.kind == "notification_sent"]
    assert [d["refused"] for d in sent] == [{"li@acme.example": "550"}]


async def test_only_the_deployments_own_webhooks_are_signed_never_a_url_a_plan_wrote(engine):
    # Signed bodies posted to a plan author's URL could be replayed to the deployment's receiver.
    with webhook_receiver() as (url, received):
        transport = Transport(webhook=url, webhook_secret=SECRET)
        async with httpx.AsyncClient() as http:
            notify = NotifyActivities(engine, http, transport)
            for channel in (WebhookChannel(kind="webhook", url="${BPO_WEBHOOK_URL}"), WebhookChannel(kind="webhook", url=url)):
                await ActivityEnvironment().run(notify.deliver, Delivery(notice=notice(), channel=channel))
    own, written = received
    assert "webhook-signature" in own["headers"] and "webhook-signature" not in written["headers"]
