"""The Temporal Web UI's codec served by the web app (issue 28): with payloads encrypted, the UI
passes its own access token (issued by the deployment's identity provider to the UI's client,
played here by the real `oidc-provider`'s ``other-app``) to ``POST /codec/decode``, which opens a
payload the worker sealed, here the transition's start as Temporal holds it, for the program
office only. A token issued to another client, an address outside the program office, a missing
token and a browser origin that is not the UI's are refused."""

from __future__ import annotations

import asyncio
import base64
import json
import os

import httpx
import pytest
from google.protobuf import json_format
from temporalio.client import Client

from tests.stack import EVE, LI, sso_web_stack
from tests.test_signin import access_token

pytestmark = pytest.mark.e2e
TID = "acme-tier-1-support-to-northstar-bpo"
UI = "http://localhost:8080"


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """The engine with payloads encrypted, single sign-on, and `other-app` as the Web UI."""
    key = base64.b64encode(os.urandom(32)).decode()
    env = {"BPO_ENCRYPTION_KEY": key, "BPO_CODEC_UI_CLIENT": "other-app", "BPO_CODEC_UI_ORIGINS": UI}
    with sso_web_stack(tmp_path_factory.mktemp("codec"), BPO_PROGRAM_OFFICE=LI, **env) as stack:
        yield stack


async def sealed_start(address: str) -> str:
    """The transition's start as Temporal holds it (no codec: what the UI receives), as JSON."""
    client = await Client.connect(address)
    history = await client.get_workflow_handle(TID).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    return json_format.MessageToJson(started.input)


def decode(web, body: str, token: str | None, origin: str = UI) -> httpx.Response:
    headers = {"Content-Type": "application/json", "Origin": origin, "X-Namespace": "default"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(f"{web.web_url}/codec/decode", content=body, headers=headers, timeout=30)


def test_the_program_office_reads_the_transitions_start_through_the_ui_and_no_one_else(web):
    sealed = asyncio.run(sealed_start(web.env["TEMPORAL_ADDRESS"]))
    assert "ACME Tier-1 support" not in sealed and "binary/encrypted" in base64_metadata(sealed)

    opened = decode(web, sealed, access_token(web, "other-app", "other-client-secret", LI))
    assert opened.status_code == 200, opened.text
    assert opened.headers["access-control-allow-origin"] == UI
    payload = json.loads(opened.text)["payloads"][0]
    assert "ACME Tier-1 support to NorthStar BPO" in base64.b64decode(payload["data"]).decode()

    ours = decode(web, sealed, access_token(web, "bpo-web", "test-client-secret", LI))
    assert ours.status_code == 401 and "issued to the Web UI" in ours.json()["error"]
    eve = decode(web, sealed, access_token(web, "other-app", "other-client-secret", EVE))
    assert eve.status_code == 403 and "the codec is for the program office" in eve.json()["error"]
    assert decode(web, sealed, None).status_code == 401
    elsewhere = decode(web, sealed, access_token(web, "other-app", "other-client-secret", LI), "http://evil.example")
    assert elsewhere.status_code == 200 and "access-control-allow-origin" not in elsewhere.headers  # the browser hides it


def test_the_ui_origin_alone_is_answered_before_a_call(web):
    asked = {"Origin": UI, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    allowed = httpx.options(f"{web.web_url}/codec/decode", headers=asked, timeout=30)
    assert allowed.headers.get("access-control-allow-origin") == UI
    assert "authorization" in allowed.headers.get("access-control-allow-headers", "")
    other = httpx.options(f"{web.web_url}/codec/decode", headers={**asked, "Origin": "http://evil.example"}, timeout=30)
    assert "access-control-allow-origin" not in other.headers


def base64_metadata(payloads_json: str) -> str:
    """Every metadata value of the payloads, decoded, in one string."""
    return " ".join(
        base64.b64decode(v).decode(errors="replace")
        for p in json.loads(payloads_json)["payloads"]
        for v in p.get("metadata", {}).values()
    )
