"""The Temporal Web UI's codec, served by the web app: ``POST /codec/decode`` opens the payloads
the UI shows (plans, names, KPI values, sealed by ``BPO_ENCRYPTION_KEY``) for a person of the
program office, known by the access token the UI passes ("pass access token" in its codec
settings). The token must be issued by the deployment's identity provider to the UI's own client
(``BPO_CODEC_UI_CLIENT``), so no static token is handed around, and only the UI's origins
(``BPO_CODEC_UI_ORIGINS``) may call it from a browser. Nothing is encoded here: whoever reads the
UI never writes a payload the worker would take as sealed by the deployment."""

from __future__ import annotations

import functools

import httpx
import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from bpo.web.deps import web
from bpo.web.office import may_start
from bpo.web.oidc import SignInFailed, groups_of, verified_email
from bpo.web.sessions import Visitor
from infra.codec import MAX_BODY, EncryptionCodec, codec_for

router = APIRouter(prefix="/codec", include_in_schema=False)
log = structlog.get_logger()


@functools.cache
def _codec(key: str, old_keys: str) -> EncryptionCodec | None:
    return codec_for(key, old_keys)


def _cors(request: Request) -> dict[str, str]:
    """The CORS headers for a call from one of the UI's origins; none for any other."""
    origin = request.headers.get("origin", "")
    if origin.rstrip("/") not in web(request).settings.codec_ui_origins:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": "content-type, x-namespace, authorization",
        "Access-Control-Allow-Credentials": "true",
        "Vary": "Origin",
    }


def _refuse(request: Request, status: int, error: str) -> JSONResponse:
    return JSONResponse({"error": error}, status_code=status, headers=_cors(request))


@router.options("/decode")
async def preflight(request: Request) -> Response:
    """The browser's question before the UI's call: which origins, methods and headers."""
    return Response(status_code=204, headers=_cors(request))


@router.post("/decode")
async def decode(request: Request) -> Response:
    """The payloads of the body, opened, for a person of the program office signed in to the UI."""
    w = web(request)
    settings = w.settings
    codec = _codec(settings.encryption_key or "", settings.encryption_old_keys)
    if codec is None or w.provider is None or not settings.codec_ui_client:
        return _refuse(
            request,
            404,
            "this web app serves no codec: it needs BPO_ENCRYPTION_KEY, single sign-on (BPO_OIDC_ISSUER) "
            "and the Temporal Web UI's client id (BPO_CODEC_UI_CLIENT)",
        )
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return _refuse(request, 401, "send the Web UI's access token (its codec setting 'pass access token')")
    try:
        claims = await w.provider.access_claims(token.strip(), settings.codec_ui_client)
        email = verified_email(claims, w.provider.email_claim)
    except SignInFailed as why:
        log.info("codec_token_refused", reason=str(why))
        return _refuse(request, 401, "the access token is not one the identity provider issued to the Web UI")
    except httpx.HTTPError as error:
        log.error("codec_token_unchecked", issuer=w.provider.issuer, error=type(error).__name__)
        return _refuse(request, 503, "the identity provider did not answer; try again shortly")
    person = Visitor(email=email, via="codec", operator="", groups=groups_of(claims, w.provider.groups_claim))
    if not may_start(settings, person):
        log.info("codec_refused", email=email)
        return _refuse(request, 403, f"{email} may not read payloads: the codec is for the program office")
    length = request.headers.get("content-length", "")
    if not length.isdigit():
        return _refuse(request, 411, "a Content-Length is required")
    if int(length) > MAX_BODY:
        return _refuse(request, 413, f"bodies are at most {MAX_BODY // 1024 // 1024} MiB")
    try:
        body = json_format.Parse(await request.body(), Payloads())
        opened = Payloads(payloads=await codec.decode(list(body.payloads)))
    except Exception:  # a bad body must learn nothing of our errors
        return _refuse(request, 400, "the body is not payloads this codec can decode")
    log.info("codec_decoded", email=email, payloads=len(body.payloads), namespace=request.headers.get("x-namespace"))
    return Response(json_format.MessageToJson(opened), media_type="application/json", headers=_cors(request))
