"""The web app's frame: it composes the routers (sign-in, pages, JSON API) over the shared objects of
`deps.py`, and adds security headers and error pages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.exceptions import HTTPException
from temporalio.client import Client

from bpo.analytics import keep_warm
from bpo.web import analytics_page, api, codec, control, me, pages, signin, slack
from bpo.web.deps import HERE, Web, log, message
from bpo.web.devmode import own_hosts_only
from bpo.web.headers import SecurityHeaders
from bpo.web.oidc import Provider
from infra.settings import Settings
from models.errors import describe, render_path


def create_app(settings: Settings, client: Client, engine: Engine) -> FastAPI:
    """The app, over a connected client and a migrated audit database."""

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
            warming = asyncio.create_task(keep_warm(engine, client, app.state.web.figures))
            try:
                yield
            finally:
                warming.cancel()

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
    app.include_router(control.router)
    app.include_router(api.router)
    app.include_router(slack.router)
    app.include_router(me.router)
    app.include_router(analytics_page.router)
    app.include_router(codec.router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    csp = (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self' " + _sso_origin(settings)
    ).strip()
    app.add_middleware(SecurityHeaders, csp=csp)

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
        # The first part of a place says where FastAPI looked (body, query, path): not the person's.
        problems = describe(list(error.errors()), where=lambda path: render_path(path[1:]))
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

    from infra.client import connect
    from infra.db import make_engine

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
