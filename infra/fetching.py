"""Fetching a document from a URL with the limits the world needs: a size cap read as it streams,
redirects followed only within the same host, a timeout per read and a total deadline, and
failures told in our own words (never the URL, which may carry a token, nor a remote server's
text). Plan-driven fetches use a client from `infra.guard`, so every hop is guarded too.

Used by the KPI feed and evidence activities, and by ``bpo evidence --verify``.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from infra.addresses import Forbidden

MAX_REDIRECTS = 5
DEADLINE = 30.0
"""Seconds a whole fetch may take (connect, headers, body, redirects): a server that drips a byte
at a time beats any per-read timeout, never this."""


class Unreachable(Exception):
    """The source could not be read now; trying again later may work."""


class Refused(Exception):
    """What the source gave is not acceptable, and trying again will not change that."""


@dataclass(frozen=True)
class Fetched:
    """A document as fetched."""

    body: bytes
    content_type: str


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


async def fetch(
    http: httpx.AsyncClient,
    url: str,
    limit: int,
    headers: dict[str, str] | None = None,
    timeout: float = 15.0,
    deadline: float = DEADLINE,
) -> Fetched:
    """The document at ``url``, at most ``limit`` bytes, within ``deadline`` seconds all told;
    `Unreachable` or `Refused` otherwise."""
    try:
        async with asyncio.timeout(deadline):
            return await _fetch(http, url, limit, headers, timeout)
    except TimeoutError:
        raise Unreachable(f"no complete answer within {deadline:g} s") from None
    except Forbidden as exc:
        raise Refused(str(exc)) from None


async def _fetch(
    http: httpx.AsyncClient, url: str, limit: int, headers: dict[str, str] | None, timeout: float
) -> Fetched:
    origin = _origin(url)
    for _ in range(MAX_REDIRECTS + 1):
        try:
            async with http.stream("GET", url, headers=headers, timeout=timeout, follow_redirects=False) as answer:
                if answer.is_redirect:
                    target = urljoin(url, answer.headers.get("location", ""))
                    if _origin(target) != origin:
                        raise Refused("it redirects to another host; not followed")
                    url = target
                    continue
                if answer.status_code >= 400:
                    raise Unreachable(f"it answered HTTP {answer.status_code}")
                declared = answer.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > limit:
                    raise Refused(f"it is {int(declared):,} bytes, over the limit of {limit:,} bytes")
                body = bytearray()
                async for chunk in answer.aiter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise Refused(f"it is over the limit of {limit:,} bytes")
                return Fetched(bytes(body), answer.headers.get("content-type", "").split(";")[0].strip().lower())
        except httpx.TimeoutException:
            raise Unreachable(f"no answer within {timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise Unreachable(f"cannot connect ({type(exc).__name__})") from None
    raise Refused(f"more than {MAX_REDIRECTS} redirects")


def sha256_of(body: bytes) -> str:
    """The hex SHA-256 of ``body``."""
    return hashlib.sha256(body).hexdigest()
