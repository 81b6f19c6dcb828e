"""What the web app's route modules share: the per-process `Web`, the templates and their filters,
and the small request helpers (`web`, `current`, `page`, `message`). `app.py` composes the routers
that use them, so the routers never import the app."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import structlog
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from temporalio.client import Client

from bpo.analytics import Kept
from bpo.filters import register as register_filters
from bpo.web.office import may_start
from bpo.web.oidc import Provider
from bpo.web.plan_names import PlanNames
from bpo.web.sessions import COOKIE, Visitor, visitor
from bpo.web.views import Recent
from infra.settings import Settings

HERE = Path(__file__).resolve().parent
log = structlog.get_logger("bpo.web")


@dataclass
class Web:
    """What every request may use; one per process."""

    settings: Settings
    engine: Engine
    client: Client
    http: httpx.AsyncClient
    provider: Provider | None = None
    dev_outbox: deque[tuple[datetime, str, str]] = field(default_factory=lambda: deque(maxlen=200))
    """The embedded default's mail: (when, address, link), newest last."""
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    recent: Recent = field(init=False)
    """Each person's overview, with the plans' names kept in ``engine`` across restarts."""
    figures: Kept = field(default_factory=Kept)
    """The portfolio's analytics worked out, kept while the projection stands (`bpo.analytics`)."""
    _hits: dict[str, deque[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.recent = Recent(plan_names=PlanNames(self.engine))

    def too_many(self, key: str, limit: int, per_seconds: float) -> bool:
        """Count a request under ``key``; whether more than ``limit`` came in ``per_seconds``."""
        now = time.monotonic()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] < now - per_seconds:
            hits.popleft()
        hits.append(now)
        if len(self._hits) > 50_000:
            self._hits.clear()
        return len(hits) > limit

    def later(self, job: Any) -> None:
        """Run ``job`` (a coroutine) after the answer, keeping hold of it until it ends."""
        task = asyncio.create_task(job)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


templates = Jinja2Templates(directory=str(HERE / "templates"))
register_filters(templates.env)


def web(request: Request) -> Web:
    """The process's `Web`."""
    return request.app.state.web  # type: ignore[no-any-return]


def current(request: Request) -> Visitor | None:
    """Who is signed in, if anyone."""
    return visitor(web(request).engine, request.cookies.get(COOKIE))


def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A rendered page with what every page shows: who is signed in, the dev banner."""
    if "me" not in context:
        context["me"] = current(request)
    context["dev"] = web(request).settings.web_dev
    context["may_start"] = context["me"] is not None and may_start(web(request).settings, context["me"])
    context["sso"] = web(request).provider is not None
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def message(request: Request, title: str, text: str, status_code: int = 400, **context: Any) -> HTMLResponse:
    """A page that says one thing: why something did not work, and what to do."""
    return page(request, "message.html", status_code, title=title, text=text, **context)
