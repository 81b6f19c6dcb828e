"""The guard on every request made for a plan (KPI feeds, evidence, webhooks): the host name is
resolved here, each address checked, and the connection made to the address that was checked, so
a name that answers a public address to one look-up and a private one to the next (DNS rebinding)
never reaches the inside. Loopback, private, link-local (the cloud metadata service), multicast,
unspecified and reserved addresses are refused unless the deployment's ``BPO_FETCH_ALLOW`` names
them; ``BPO_ALLOWED_HOSTS``, when set, is the only list of destinations.

The check sits in the network backend under httpx, at connect time: every connection, each
redirect hop included, goes through it, and nothing in a plan can go around it. Refusals are in
our words and carry an address at most, never a URL (it may carry a token).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable

import httpcore
import httpx

from infra.addresses import Forbidden, Policy


async def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, in the resolver's order (tests replace this)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend behind a guard: one resolution, checked, then a connection to
    the checked address (TLS's server name and the Host header still use the name)."""

    def __init__(self, policy: Policy, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.policy = policy
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Resolve ``host`` once, skip the inside addresses not allowed, and connect to the first
        allowed one that answers; refused in our words when none is allowed."""
        self.policy.check_name(host)
        try:
            async with asyncio.timeout(timeout):
                addresses = await resolve(host.strip("[]"), port)
        except TimeoutError:
            raise httpcore.ConnectTimeout("the host name did not resolve in time") from None
        except OSError:
            raise httpcore.ConnectError("the host name does not resolve") from None
        named = self.policy.named(host, port)
        failure: Exception | None = None
        for address in addresses:
            try:
                self.policy.check_address(address, named)
                return await self.inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except Forbidden as exc:
                failure = failure or exc
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:  # the next allowed address may answer
                failure = exc
        raise failure or httpcore.ConnectError("the host name does not resolve")

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None
    ) -> httpcore.AsyncNetworkStream:
        """Never: a plan's request goes over TCP only."""
        raise Forbidden("a plan's request goes over TCP only")

    async def sleep(self, seconds: float) -> None:
        """Sleep as the inner backend does."""
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, its connection pool built on a `GuardedBackend` and with no proxy
    from the environment (a proxy would connect for us, past the guard)."""

    def __init__(
        self, policy: Policy, backend: httpcore.AsyncNetworkBackend | None = None, keep_alive: bool = True
    ) -> None:
        super().__init__(trust_env=False)
        # httpx takes no network backend of its own: swap the pool it made for one that has ours.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_keepalive_connections=None if keep_alive else 0,
            network_backend=GuardedBackend(policy, backend),
        )


def guarded_client(
    policy: Policy, backend: httpcore.AsyncNetworkBackend | None = None, keep_alive: bool = True
) -> httpx.AsyncClient:
    """An HTTP client for plan-driven requests: every connection goes through the guard; with
    ``keep_alive`` off, none stays open once its answer is read."""
    return httpx.AsyncClient(transport=GuardedTransport(policy, backend, keep_alive), trust_env=False)
