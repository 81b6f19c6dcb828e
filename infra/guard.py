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
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field

import httpcore
import httpx

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK = "127.0.0.0/8,::1"
"""What ``bpo up`` allows, so the demo's own receivers on this machine keep working."""
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Forbidden(Exception):
    """A destination the guard refuses; the message says why in our words, with no URL."""


def _embedded(ip: IP) -> IP:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo, NAT64), else ``ip``: the
    address the packet really reaches is the one to judge."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return ip.ipv4_mapped
        if ip.sixtofour:
            return ip.sixtofour
        if ip.teredo:
            return ip.teredo[1]
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def kind_of(ip: IP) -> str | None:
    """What kind of inside address ``ip`` is (``"private"``, ``"loopback"``, ...), or None when it
    is a public address a plan may reach."""
    for candidate in (_embedded(ip), ip):  # what the packet reaches speaks first
        for word, hit in (
            ("unspecified", candidate.is_unspecified),
            ("loopback", candidate.is_loopback),
            ("link-local", candidate.is_link_local),
            ("multicast", candidate.is_multicast),
            ("private", candidate.is_private),
            ("reserved", candidate.is_reserved),
            ("non-public", not candidate.is_global),
        ):
            if hit:
                return word
    return None


@dataclass(frozen=True)
class Policy:
    """Where plan-driven requests may go: ``allow`` lets inside addresses through (hosts,
    ``host:port`` or CIDRs, from ``BPO_FETCH_ALLOW``); ``only``, when not empty, is the list of
    destinations (``BPO_ALLOWED_HOSTS``: hosts, ``.example.com`` for a domain)."""

    hosts: frozenset[str] = frozenset()
    host_ports: frozenset[tuple[str, int]] = frozenset()
    networks: tuple[Network, ...] = ()
    only: tuple[str, ...] = ()
    setting: str = field(default="BPO_FETCH_ALLOW", compare=False)

    @classmethod
    def parse(cls, allow: str | Iterable[str] = "", only: Iterable[str] = ()) -> Policy:
        """A policy from ``BPO_FETCH_ALLOW``'s text (or its entries) and ``BPO_ALLOWED_HOSTS``'s list.

        Raises:
            ValueError: an entry is neither a host, a ``host:port`` nor a CIDR; the message names it.
        """
        entries = allow.split(",") if isinstance(allow, str) else list(allow)
        hosts, host_ports, networks = set(), set(), []
        for raw in (e.strip().lower() for e in entries):
            if not raw:
                continue
            try:
                networks.append(ipaddress.ip_network(raw.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            host, colon, port = raw.rpartition(":")
            if colon and port.isdigit() and host and (host.count(":") == 0 or host.startswith("[")):
                host_ports.add((host.strip("[]"), int(port)))
            elif raw.replace("-", "").replace(".", "").isalnum():
                hosts.add(raw)
            else:
                raise ValueError(f"'{raw}' is not a host, host:port or CIDR")
        listed = tuple(h.strip().lower() for h in only if h.strip())
        return cls(frozenset(hosts), frozenset(host_ports), tuple(networks), listed)

    def with_host_port(self, host: str | None, port: int | None) -> Policy:
        """This policy, also allowing ``host:port`` (a destination the deployment set itself)."""
        if not host or not port:
            return self
        return Policy(self.hosts, self.host_ports | {(host.lower(), port)}, self.networks, self.only)

    def check_name(self, host: str) -> None:
        """Refuse a host outside ``BPO_ALLOWED_HOSTS`` (when it is set)."""
        name = host.lower()
        if self.only and not any(name == h or (h.startswith(".") and name.endswith(h)) for h in self.only):
            raise Forbidden("the host is not in BPO_ALLOWED_HOSTS")

    def named(self, host: str, port: int) -> bool:
        """Whether the allow list names this host (or this host and port) itself."""
        name = host.lower().strip("[]")
        return name in self.hosts or (name, port) in self.host_ports

    def check_address(self, address: str, named: bool) -> None:
        """Refuse an inside address (as the resolver wrote it) the allow list does not cover."""
        ip = ipaddress.ip_address(address.split("%")[0])
        kind = kind_of(ip)
        if kind is None or named or any(ip in n or _embedded(ip) in n for n in self.networks):
            return
        # The address is not told: whoever wrote the URL would map the inside network with it.
        raise Forbidden(f"the host resolves to a {kind} address; set {self.setting} to allow it")


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
