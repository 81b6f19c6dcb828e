"""Sign-in without gaps, through the real parts: a dev server, a worker, `bpo web` and a real
OpenID Connect provider (`oidc-provider` on the machine's Node.js) with two registered clients,
`bpo-web` (this app) and `other-app`: login CSRF, access tokens issued to another client, an
address the provider has not verified, personal tokens that expire or may only read, the rate
limit behind a trusted proxy, and development mode's own host names."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import subprocess
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import Session

from infra.db import make_engine
from models.web_tables import ApiToken
from tests.stack import BPO, LI, ROOT, Stack, free_port, sso_web_stack, wait_until
from tests.test_web_office import by_link, by_sso
from tests.web_client import Person, csrf_of, text_of, through_provider

pytestmark = pytest.mark.e2e
TID = "acme-tier-1-support-to-northstar-bpo"
ELSEWHERE = "http://127.0.0.1:9/callback"  # registered for both clients; nothing listens there
PROXY = "127.0.0.2"  # the trusted proxy's address: a test connects from it to play the compose nginx


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """The engine with the web app, single sign-on through the provider, and `PROXY` trusted."""
    with sso_web_stack(tmp_path_factory.mktemp("signin"), BPO_TRUSTED_PROXIES=f"{PROXY}/32") as stack:
        yield stack


def access_token(web: Stack, client_id: str, secret: str, address: str) -> str:
    """An access token the provider issues to ``client_id`` for ``address`` (code flow, PKCE)."""
    issuer: str = web.issuer  # type: ignore[attr-defined]
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {
        "client_id": client_id,
        "redirect_uri": ELSEWHERE,
        "response_type": "code",
        "scope": "openid email",
        "state": "s",
        "nonce": "n",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    with httpx.Client(follow_redirects=False, timeout=30) as http:
        back = through_provider(http, http.get(f"{issuer}/auth?{urlencode(query)}"), address, ELSEWHERE)
        code = parse_qs(urlsplit(back).query)["code"][0]
        answer = http.post(
            f"{issuer}/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": ELSEWHERE,
                "code_verifier": verifier,
            },
            auth=(client_id, secret),
        )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def test_a_callback_url_opened_in_another_browser_signs_no_one_in(web):
    attacker = Person(web.web_url)
    started = attacker.get("/login/oidc")
    binding = started.headers["set-cookie"].lower()
    assert binding.startswith("bpo_signin=") and "httponly" in binding and "samesite=lax" in binding
    callback = through_provider(attacker.http, started, "mallory@acme.example", web.web_url)
    assert "/login/oidc/callback" in callback
    # The attacker sends the URL to Li, whose browser never started a sign-in.
    victim = Person(web.web_url)
    opened = victim.get(callback)
    assert opened.status_code == 400, opened.text[:500]
    assert "started in another browser" in text_of(opened.text)
    assert "bpo_session" not in victim.http.cookies
    assert victim.get("/").status_code in (303, 401), "the victim is not signed in as anyone"
    # The state was spent by that attempt: the URL no longer works in the browser that started it.
    again = attacker.get(callback)
    assert again.status_code == 400 and "bpo_session" not in attacker.http.cookies
    # A sign-in that comes back to the browser that started it still works.
    assert "bpo_session" in by_sso(web, LI).http.cookies


def test_an_access_token_issued_to_another_client_is_refused_by_the_api(web):
    ours = access_token(web, "bpo-web", "test-client-secret", LI)
    assert Person(web.web_url).http.get("/api/inbox", headers={"Authorization": f"Bearer {ours}"}).status_code == 200
    theirs = access_token(web, "other-app", "other-client-secret", LI)
    refused = Person(web.web_url).http.get("/api/inbox", headers={"Authorization": f"Bearer {theirs}"})
    assert refused.status_code == 401, refused.text
    assert "not valid" in refused.json()["error"]


def test_an_address_the_provider_has_not_verified_signs_no_one_in(web):
    ivy = Person(web.web_url)
    callback = through_provider(ivy.http, ivy.get("/login/oidc"), "ivy@unverified.example", web.web_url)
    answer = ivy.get(callback)
    assert answer.status_code == 400, answer.text[:500]
    assert "has not verified this email address" in text_of(answer.text)
    assert "bpo_session" not in ivy.http.cookies


def _new_token(person: Person, name: str, scope: str) -> str:
    made = person.submit("/me/tokens", {"name": name, "scope": scope})
    assert made.status_code == 200, text_of(made.text)
    found = re.search(r"bpo_[A-Za-z0-9_-]{20,}", made.text)
    assert found, text_of(made.text)
    return found.group(0)


def test_a_read_token_reads_but_decides_nothing_and_an_expired_token_is_refused(web):
    li = by_link(web, LI)
    reader = _new_token(li, "dashboard", "read")
    listing = text_of(li.get("/me/tokens").text)
    assert "dashboard" in listing and "read" in listing and "expires" in listing.lower()
    api = Person(web.web_url).http
    bearer = {"Authorization": f"Bearer {reader}"}
    assert api.get(f"/api/transitions/{TID}", headers=bearer).status_code == 200
    refused = api.post(f"/api/transitions/{TID}/gates/gap_analysis_approved/approve", json={}, headers=bearer)
    assert refused.status_code == 403, refused.text
    assert "read" in refused.json()["error"]
    assert web.status(TID)["decisions"] == [] or all(
        d.get("gate") != "gap_analysis_approved" for d in web.status(TID)["decisions"]
    )

    decider = _new_token(li, "servicenow", "decide")
    engine = make_engine(f"sqlite:///{web.data_dir / 'audit.db'}")
    with Session(engine) as session:  # ninety days later
        session.exec(
            update(ApiToken)
            .where(ApiToken.name == "servicenow")
            .values(  # type: ignore[call-overload]
                expires_at=datetime.now(UTC) - timedelta(minutes=1)
            )
        )
        session.commit()
    expired = api.get("/api/inbox", headers={"Authorization": f"Bearer {decider}"})
    assert expired.status_code == 401, expired.text
    assert "expired" in expired.json()["error"]


def _ask_for_links(web: Stack, source: str, forwarded: str, times: int) -> list[int]:
    """Ask for sign-in links ``times`` times from ``source``, saying X-Forwarded-For ``forwarded``."""
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(base_url=web.web_url, transport=transport, timeout=30) as http:
        csrf = csrf_of(http.get("/login").text)
        codes = []
        for _ in range(times):
            answer = http.post(
                "/login",
                data={"csrf": csrf, "email": "nobody@acme.example"},
                headers={"X-Forwarded-For": forwarded, "X-Real-IP": forwarded},
            )
            codes.append(answer.status_code)
        return codes


def test_the_link_limit_keys_on_the_forwarded_client_only_behind_a_trusted_proxy(web):
    # Through the trusted proxy, one person asking too often is limited, and someone else is not.
    assert _ask_for_links(web, PROXY, "203.0.113.7", 21)[-1] == 429
    assert _ask_for_links(web, PROXY, "203.0.113.8", 1) == [200]
    # Straight from any other address, a forged X-Forwarded-For does not buy a fresh allowance.
    codes = [_ask_for_links(web, "127.0.0.3", f"198.51.100.{n}", 1)[0] for n in range(21)]
    assert codes[-1] == 429, codes


def test_development_mode_answers_its_own_host_names_only_and_binds_loopback_only(web):
    port = free_port()
    env = {**web.env, "BPO_WEB_DEV": "1", "BPO_WEB_URL": f"http://localhost:{port}"}
    log = open(web.data_dir / "web-dev.log", "ab")  # noqa: SIM115 - closed below
    dev = subprocess.Popen([*BPO, "web", "--port", str(port)], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_until(lambda: _answers(base), 60), (web.data_dir / "web-dev.log").read_text()[-2000:]
        with httpx.Client(base_url=base, timeout=30) as http:
            assert http.get("/dev/outbox").status_code == 200
            for own in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"):
                assert http.get("/dev/outbox", headers={"Host": own}).status_code == 200, own
            rebound = http.get("/dev/outbox", headers={"Host": f"attacker.example:{port}"})
            assert rebound.status_code == 421 and "attacker.example" in rebound.text
    finally:
        dev.terminate()
        dev.wait(timeout=20)
        log.close()
    public = subprocess.run(
        [*BPO, "web", "--host", "0.0.0.0", "--port", str(free_port())],  # noqa: S104
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert public.returncode != 0 and "loopback" in public.stderr, public.stderr[-2000:]
    https = subprocess.run(
        [*BPO, "web", "--port", str(free_port())],
        env={**env, "BPO_WEB_URL": "https://bpo.example.com"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert https.returncode != 0 and "https" in https.stderr, https.stderr[-2000:]


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
