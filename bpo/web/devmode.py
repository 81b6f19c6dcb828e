"""Development mode (``BPO_WEB_DEV``: links on `/dev/outbox`, anyone signs in as anyone) kept to
the developer's own machine: a loopback bind only, never under an ``https`` address people
reach, and answering its own host names only, so a page elsewhere cannot rebind a name of its
own onto 127.0.0.1 and read `/dev/outbox` from the developer's browser."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request, Response
from fastapi.responses import PlainTextResponse

from infra.settings import Settings

OWN_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def refusal(settings: Settings, host: str) -> str | None:
    """Why the web app may not start in development mode on ``host``, if it may not."""
    if not settings.web_dev:
        return None
    if not is_loopback(host):
        return (
            f"BPO_WEB_DEV=1 lets anyone sign in as anyone, so it serves a loopback address only "
            f"(--host 127.0.0.1, localhost or ::1), not {host}. Unset BPO_WEB_DEV to serve other machines."
        )
    if (settings.web_url or "").lower().startswith("https://"):
        return (
            f"BPO_WEB_DEV=1 lets anyone sign in as anyone, and BPO_WEB_URL ({settings.web_url}) is an https "
            "address people reach: unset BPO_WEB_DEV there, or set BPO_WEB_URL to http://localhost:PORT."
        )
    return None


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a bind address or a name) is this machine's loopback."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def own_names(settings: Settings) -> frozenset[str]:
    """The host names development mode answers: loopback's, and ``BPO_WEB_URL``'s."""
    named = urlsplit(settings.web_url or "").hostname
    return OWN_NAMES | ({named} if named else set())


def host_name(header: str) -> str | None:
    """The name in a ``Host`` header, without its port or brackets, lower-case; None if malformed."""
    try:
        return urlsplit(f"//{header}").hostname
    except ValueError:
        return None


def own_hosts_only(settings: Settings) -> Any:
    """The middleware that answers 421 to a request for a host name not in `own_names`."""
    names = own_names(settings)

    async def middleware(request: Request, call_next: Any) -> Response:
        name = host_name(request.headers.get("host", ""))
        if name not in names:
            return PlainTextResponse(
                f"421 Misdirected Request: this development server answers {', '.join(sorted(names))} only, "
                f"not {str(name)[:100]}.",
                status_code=421,
            )
        response: Response = await call_next(request)
        return response

    return middleware
