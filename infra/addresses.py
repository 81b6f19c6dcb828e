"""Which addresses a request made for a plan may reach: the kinds of inside address, and the
deployment's allow lists (``BPO_FETCH_ALLOW``, ``BPO_ALLOWED_HOSTS``) as a `Policy`. The rules
alone, without the network: settings check the lists with them at every command's start, and
`infra.guard` applies them at connect time."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

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
