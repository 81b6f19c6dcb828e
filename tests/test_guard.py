"""Requests made for a plan are guarded: a name that resolves to an inside address (private,
loopback, link-local such as the cloud metadata service, IPv4 hidden in IPv6) is refused before
any connection is attempted, unless ``BPO_FETCH_ALLOW`` names it; a server that drips its answer
is cut off by the total deadline.

Name resolution is stubbed for every address that is not loopback: no test sends traffic anywhere
but 127.0.0.0/8.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import httpcore
import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

import infra.guard
from activities.evidence import EvidenceActivities
from activities.feeds import FeedActivities
from activities.notify import NotifyActivities
from infra.addresses import Policy
from infra.evidence_store import open_store
from infra.fetching import Refused, Unreachable, fetch
from infra.guard import guarded_client
from infra.settings import Settings
from infra.transport import Transport
from models.deliveries import Delivery
from models.evidence import PinRequest
from models.feeds import FeedPull, HttpFeed
from models.plan import WebhookChannel
from tests.receivers import document_server, webhook_receiver
from tests.test_activities import notice

INSIDE = [
    ("10.0.0.5", "private address"),
    ("169.254.169.254", "link-local address"),
    ("::1", "loopback address"),
    ("::ffff:127.0.0.1", "loopback address"),
    ("0.0.0.0", "unspecified address"),  # noqa: S104 - an address refused, not bound
    ("2002:a00:5::1", "private address"),  # 6to4 carrying 10.0.0.5
]
URL = "https://feeds.example/kpis.json?token=s3cret"


class NoConnection(httpcore.AsyncNetworkBackend):
    """Stands where the real network is: records every connection asked for and makes none."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.asked.append(host)
        raise httpcore.ConnectError("no network in this test")


def resolving_to(monkeypatch: pytest.MonkeyPatch, *addresses: str) -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    monkeypatch.setattr(infra.guard, "resolve", resolve)


@pytest.mark.parametrize(("address", "said"), INSIDE)
async def test_a_name_resolving_to_an_inside_address_is_refused_before_any_connection(monkeypatch, address, said):
    resolving_to(monkeypatch, address)
    network = NoConnection()
    async with guarded_client(Policy.parse(""), network) as http:
        with pytest.raises(Refused) as refused:
            await fetch(http, URL, 1024)
    assert str(refused.value) == f"the host resolves to a {said}; set BPO_FETCH_ALLOW to allow it"
    assert address not in str(refused.value), "the inside address is not told to whoever wrote the URL"
    assert network.asked == [], "no connection was attempted"
    assert "feeds.example" not in str(refused.value) and "s3cret" not in str(refused.value)


async def test_a_name_with_a_public_and_an_inside_address_is_connected_to_the_public_one_only(monkeypatch):
    resolving_to(monkeypatch, "10.0.0.5", "93.184.216.34")
    network = NoConnection()
    async with guarded_client(Policy.parse(""), network) as http:
        with pytest.raises(Unreachable):
            await fetch(http, URL, 1024)
    assert network.asked == ["93.184.216.34"], "the address checked is the one connected to"


async def test_the_allow_list_lets_a_named_network_through_and_nothing_else(monkeypatch):
    resolving_to(monkeypatch, "10.0.0.5")
    network = NoConnection()
    async with guarded_client(Policy.parse("10.0.0.0/24"), network) as http:
        with pytest.raises(Unreachable):
            await fetch(http, URL, 1024)
    assert network.asked == ["10.0.0.5"]
    resolving_to(monkeypatch, "169.254.169.254")
    async with guarded_client(Policy.parse("10.0.0.0/24"), network) as http:
        with pytest.raises(Refused, match="link-local"):
            await fetch(http, URL, 1024)
    assert network.asked == ["10.0.0.5"], "the metadata service was never asked"


async def test_allowed_hosts_is_the_only_list_of_destinations(monkeypatch):
    resolving_to(monkeypatch, "93.184.216.34")
    network = NoConnection()
    async with guarded_client(Policy.parse("", ["kpis.example.com"]), network) as http:
        with pytest.raises(Refused, match="the host is not in BPO_ALLOWED_HOSTS"):
            await fetch(http, URL, 1024)
    assert network.asked == []


def test_the_allow_list_is_checked_when_the_settings_are_read():
    assert Settings(BPO_FETCH_ALLOW="10.1.0.0/16, intranet.example:8443, localhost").fetch_policy.named(
        "intranet.example", 8443
    )
    with pytest.raises(ValueError, match="BPO_FETCH_ALLOW: 'not a host!' is not a host, host:port or CIDR"):
        Settings(BPO_FETCH_ALLOW="10.1.0.0/16,not a host!")


async def test_a_loopback_receiver_is_refused_without_the_allow_list_and_reached_with_it():
    with document_server() as (base, served):
        served.put("/minutes.txt", b"minutes", "text/plain")
        async with guarded_client(Policy.parse("")) as http:
            with pytest.raises(Refused, match=r"loopback address; set BPO_FETCH_ALLOW"):
                await fetch(http, f"{base}/minutes.txt", 1024)
        assert served.hits["/minutes.txt"] == 0, "the receiver was never asked"
        async with guarded_client(Settings(BPO_FETCH_ALLOW="127.0.0.0/8").fetch_policy) as http:
            assert (await fetch(http, f"{base}/minutes.txt", 1024)).body == b"minutes"


async def test_each_redirect_hop_goes_through_the_guard(monkeypatch):
    """A same-origin redirect is a new request on the same guarded client: were the name to
    resolve to an inside address by then, the hop would be refused like the first request."""
    with document_server() as (base, served):
        served.redirect["/a"] = "/b"
        port = int(base.rsplit(":", 1)[1])
        answers = iter([["127.0.0.1"], ["10.0.0.5"]])

        async def resolve(host: str, p: int) -> list[str]:
            return next(answers)

        monkeypatch.setattr(infra.guard, "resolve", resolve)
        # keep_alive off: the hop needs a new connection, so the name is resolved again
        async with guarded_client(Policy.parse("127.0.0.1/32"), keep_alive=False) as http:
            with pytest.raises(Refused, match=r"private address;"):
                await fetch(http, f"http://feeds.example:{port}/a", 1024)
        assert served.hits["/a"] == 1 and served.hits["/b"] == 0


async def test_the_feed_and_evidence_activities_report_the_refusal_in_our_words(monkeypatch, tmp_path):
    resolving_to(monkeypatch, "169.254.169.254")
    network = NoConnection()
    async with guarded_client(Policy.parse(""), network) as http:
        feeds = FeedActivities(http, {})
        source = HttpFeed(name="cc", url=URL, kind="json")
        asked = FeedPull(
            transition_id="t", source=source, every="weekly", periods=["2027-W06"], metrics={"csat": "$.csat"}
        )
        result = await ActivityEnvironment().run(feeds.pull, asked)
        evidence = EvidenceActivities(http, open_store(str(tmp_path), None), 1024)
        pinned = await ActivityEnvironment().run(evidence.pin, PinRequest(transition_id="t", gate="g", evidence=URL))
    assert "link-local address;" in result.no_data["2027-W06"]
    assert pinned.refused and pinned.problem == (
        "the evidence is refused: the host resolves to a link-local address; "
        "set BPO_FETCH_ALLOW to allow it"
    )
    assert network.asked == []


@asynccontextmanager
async def dripping(drops: int = 40) -> AsyncIterator[str]:
    """A loopback server that sends its headers, then one byte of its body every half second."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {drops}\r\n\r\n".encode())
        try:
            for _ in range(drops):
                await writer.drain()
                await asyncio.sleep(0.5)
                writer.write(b"x")
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/slow.txt"
        server.close()


async def test_a_server_dripping_its_answer_is_cut_off_by_the_total_deadline():
    async with dripping() as url, guarded_client(Policy.parse("127.0.0.1")) as http:
        with pytest.raises(Unreachable, match=r"^no complete answer within 2 s$"):
            await fetch(http, url, 1024, timeout=5, deadline=2)


async def test_a_webhook_a_plan_wrote_is_guarded_and_the_deployments_own_is_not(tmp_path):
    """A plain URL in a plan goes through the guard; ``${BPO_WEBHOOK_URL}`` is the operator's own
    destination (often an inside relay) and goes through the worker's ordinary client."""
    from infra.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path}/audit.db")
    with webhook_receiver() as (url, received):
        transport = Transport(webhook=url)
        async with httpx.AsyncClient() as http, guarded_client(Policy.parse("")) as guarded:
            notify = NotifyActivities(engine, http, transport, guarded)
            plain = Delivery(notice=notice(), channel=WebhookChannel(kind="webhook", url=url))
            with pytest.raises(ApplicationError) as refused:
                await ActivityEnvironment().run(notify.deliver, plain)
            own = Delivery(notice=notice(), channel=WebhookChannel(kind="webhook", url="${BPO_WEBHOOK_URL}"))
            await ActivityEnvironment().run(notify.deliver, own)
    assert refused.value.type == "BadChannel" and refused.value.non_retryable
    assert refused.value.message.startswith("the webhook is refused: the host resolves to a loopback address")
    assert len(received) == 1, "only the deployment's own webhook was posted to"


async def test_the_worker_refuses_a_loopback_feed_unless_the_deployment_allows_it(launch, settings):
    """The worker's feed activity uses the guarded client: with no BPO_FETCH_ALLOW (the shared
    settings have none), a feed on this machine is never asked, and the pull says why."""
    from tests.test_feeds import feed_plan, serve_weeks, until_written

    with document_server() as (base, served), webhook_receiver() as (hook, _):
        t = await launch(feed_plan(base, hook))
        first = (await t.status()).feeds["contact_centre"].next_period
        serve_weeks(served, first, 2)
        await t.sleep(days=8)
        [told, *_] = await until_written(t, settings, "feed_no_data")
    assert told.detail["reason"] == "the host resolves to a loopback address; set BPO_FETCH_ALLOW to allow it"
    assert sum(served.hits.values()) == 0, "the feed was never asked"


async def test_a_webhook_dripping_its_answer_is_cut_off_by_the_total_deadline(tmp_path, monkeypatch):
    import activities.notify
    from infra.db import make_engine

    monkeypatch.setattr(activities.notify, "DEADLINE", 2.0)
    engine = make_engine(f"sqlite:///{tmp_path}/audit.db")
    async with dripping() as url, guarded_client(Policy.parse("127.0.0.1")) as guarded:
        notify = NotifyActivities(engine, guarded, Transport(), guarded)
        delivery = Delivery(notice=notice(), channel=WebhookChannel(kind="webhook", url=url))
        with pytest.raises(ApplicationError, match=r"^the webhook gave no complete answer within 2 s$") as cut:
            await ActivityEnvironment().run(notify.deliver, delivery)
    assert not cut.value.non_retryable, "tried again later"
