"""The web app's frame: settings, the Temporal client, the audit database, templates, security
headers and error pages. The pages, sign-in and the JSON API live in the modules beside it."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import structlog
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from starlette.exceptions import HTTPException
from temporalio.client import Client

from bpo.filters import register as register_filters
from bpo.settings import Settings
from bpo.web.devmode import own_hosts_only
from bpo.web.office import may_start
from bpo.web.oidc import Provider
from bpo.web.sessions import COOKIE, Visitor, visitor
from bpo.web.views import Recent

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
    recent: Recent = field(default_factory=Recent)
    _hits: dict[str, deque[float]] = field(default_factory=dict)

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


def create_app(settings: Settings, client: Client, engine: Engine) -> FastAPI:
    """The app, over a connected client and a migrated audit database."""
    from bpo.web import api, pages, signin

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient() as http:
            provider = None
            if settings.oidc_issuer and settings.oidc_client_id:
                provider = Provider(
                    settings.oidc_issuer,
                    settings.oidc_client_id,
                    settings.oidc_client_secret,
                    http,
                    groups_claim=settings.oidc_groups_claim,
                    email_claim=settings.oidc_email_claim,
                )
            app.state.web = Web(settings, engine, client, http, provider)
            yield

    app = FastAPI(
        title="bpo-transition",
        description="Sign off gates, record KPI readings and read status. Authenticate with a bearer token: "
        "a personal token from /me/tokens, or an access token of the organisation's identity provider.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(signin.router)
    app.include_router(pages.router)
    app.include_router(api.router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self' " + _sso_origin(settings)
        ).strip()
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    if settings.web_dev:  # DNS rebinding: a name of someone else's pointed at 127.0.0.1 gets nothing
        app.middleware("http")(own_hosts_only(settings))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        if error.status_code == 303 and error.headers:
            return RedirectResponse(error.headers["Location"], status_code=303)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": error.detail}, status_code=error.status_code)
        return message(
            request, _TITLES.get(error.status_code, "Something went wrong"), str(error.detail), error.status_code
        )

    @app.exception_handler(RequestValidationError)
    async def bad_input(request: Request, error: RequestValidationError) -> Response:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'input'}: {e['msg']}" for e in error.errors())
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": problems}, status_code=422)
        return message(request, "That did not look right", problems, 422)

    return app


_TITLES = {403: "Not for you", 404: "Not found", 413: "Too large", 429: "Slow down", 401: "Sign in first"}


def _sso_origin(settings: Settings) -> str:
    if not settings.oidc_issuer:
        return ""
    from urllib.parse import urlsplit

    parts = urlsplit(settings.oidc_issuer)
    return f"{parts.scheme}://{parts.netloc}"


def serve(settings: Settings, host: str, port: int) -> None:
    """Run the app with uvicorn until interrupted."""
    import uvicorn

    from bpo.client import connect
    from bpo.db import make_engine

    if not settings.web_url:  # links in mails need the address people reach the app at
        settings = settings.model_copy(update={"web_url": f"http://localhost:{port}"})
        if host not in ("127.0.0.1", "localhost", "::1"):
            log.warning("web_url_unset", hint="set BPO_WEB_URL to the address people use; links say localhost")

    async def main() -> None:
        client = await connect(settings)
        app = create_app(settings, client, make_engine(settings.audit_url))
        # X-Forwarded-For (and -Proto) believed only from BPO_TRUSTED_PROXIES: from anyone else it is
        # whatever they chose to write, and the sign-in rate limit keys on the client it names.
        proxies = [str(network) for network in settings.trusted_proxies]
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            proxy_headers=bool(proxies),
            forwarded_allow_ips=proxies or None,
        )
        print(f"bpo web: http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}", flush=True)  # noqa: S104
        await uvicorn.Server(config).serve()

    asyncio.run(main())
