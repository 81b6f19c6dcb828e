"""Sign-in checks that need a provider misbehaving, which the real one in tests/browser will not do:
a discovery document that names another issuer on a later fetch, JWT access tokens for another
client, an address without ``email_verified``; and the settings and migration beside them."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from pydantic import ValidationError

from bpo.commands.operating import _dev_mode
from bpo.web.oidc import Provider, SignInFailed, verified_email
from infra.db import MIGRATIONS
from infra.settings import Settings

ISSUER = "https://id.example.com"


class FakeProvider:
    """Answers discovery, JWKS and userinfo as a provider would, with what a test sets."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, auto_kid=True)
        self.issuer_named = ISSUER
        self.fetches = 0
        self.userinfo: dict[str, Any] = {"sub": "u1", "email": "li@acme.example", "email_verified": True}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/openid-configuration":
            self.fetches += 1
            return httpx.Response(
                200,
                json={
                    "issuer": self.issuer_named,
                    "jwks_uri": f"{ISSUER}/jwks",
                    "userinfo_endpoint": f"{ISSUER}/me",
                    "authorization_endpoint": f"{ISSUER}/auth",
                    "token_endpoint": f"{ISSUER}/token",
                },
            )
        if request.url.path == "/jwks":
            return httpx.Response(200, json=KeySet([self.key]).as_dict(private=False))
        if request.url.path == "/me":
            return httpx.Response(200, json=self.userinfo)
        return httpx.Response(404)

    def token(self, **claims: Any) -> str:
        body = {"iss": ISSUER, "sub": "u1", "exp": int(time.time()) + 300, "iat": int(time.time()), **claims}
        return jwt.encode({"alg": "RS256", "kid": self.key.kid}, body, self.key)


@pytest.fixture
def fake() -> FakeProvider:
    return FakeProvider()


def provider(fake: FakeProvider) -> Provider:
    return Provider(ISSUER, "bpo-web", "secret", httpx.AsyncClient(transport=httpx.MockTransport(fake)))


async def test_a_discovery_document_naming_another_issuer_is_refused_on_every_fetch(fake):
    p = provider(fake)
    fake.issuer_named = "https://evil.example.com"
    for _ in range(2):  # the second sign-in must not use what the first refused
        with pytest.raises(SignInFailed, match="names another issuer"):
            await p.config()
    assert fake.fetches == 2
    # A good document is kept; when it is fetched again (an hour later), its issuer is checked again.
    fake.issuer_named = ISSUER
    assert (await p.config())["issuer"] == ISSUER
    p._config_until = 0.0
    fake.issuer_named = "https://evil.example.com"
    with pytest.raises(SignInFailed, match="names another issuer"):
        await p.config()


async def test_a_jwt_access_token_is_accepted_only_for_this_app(fake):
    p = provider(fake)
    for ours in (fake.token(aud="bpo-web"), fake.token(aud=["api", "bpo-web"]), fake.token(aud="api", azp="bpo-web")):
        assert (await p.access_claims(ours))["email"] == "li@acme.example"
    with pytest.raises(SignInFailed, match="another application"):
        await p.access_claims(fake.token(aud="other-app", azp="other-app"))
    with pytest.raises(SignInFailed, match="did not verify"):
        await p.access_claims(fake.token(aud="bpo-web", exp=int(time.time()) - 10))
    with pytest.raises(SignInFailed, match="did not verify"):
        await p.access_claims(fake.token(aud="bpo-web", iss="https://elsewhere.example.com"))
    other_key = RSAKey.generate_key(2048, auto_kid=True)
    forged = jwt.encode(
        {"alg": "RS256", "kid": fake.key.kid},
        {"iss": ISSUER, "sub": "u1", "aud": "bpo-web", "exp": int(time.time()) + 60},
        other_key,
    )
    with pytest.raises(SignInFailed, match="did not verify"):
        await p.access_claims(forged)


async def test_an_opaque_token_is_refused_where_the_provider_offers_no_introspection(fake):
    with pytest.raises(SignInFailed, match="no introspection"):
        await provider(fake).access_claims("an-opaque-token-the-userinfo-would-answer-for")


def test_a_missing_email_verified_is_not_verified_unless_the_operator_names_a_guaranteed_claim():
    with pytest.raises(SignInFailed, match="not verified"):
        verified_email({"email": "li@acme.example"})
    with pytest.raises(SignInFailed, match="not verified"):
        verified_email({"email": "li@acme.example", "email_verified": False})
    assert verified_email({"email": "Li@acme.example", "email_verified": True}) == "li@acme.example"
    entra = {"email": "typed-by-the-user@gmail.com", "verified_mail": "Li@acme.example"}
    assert verified_email(entra, "verified_mail") == "li@acme.example"
    with pytest.raises(SignInFailed, match="BPO_OIDC_EMAIL_CLAIM"):
        verified_email({"email": "li@acme.example", "email_verified": True}, "verified_mail")


def test_bpo_up_honours_bpo_web_dev_from_dot_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("BPO_WEB_DEV", "BPO_WEB_URL"):
        monkeypatch.delenv(name, raising=False)
    assert _dev_mode(Settings()) is True  # the embedded default
    (tmp_path / ".env").write_text("BPO_WEB_DEV=0\n")
    assert _dev_mode(Settings()) is False
    (tmp_path / ".env").write_text("BPO_WEB_URL=https://bpo.example.com\n")
    assert _dev_mode(Settings()) is False


def test_trusted_proxies_must_be_addresses_or_cidrs(monkeypatch):
    monkeypatch.setenv("BPO_TRUSTED_PROXIES", "172.30.80.80, 10.0.0.0/8")
    assert [str(n) for n in Settings().trusted_proxies] == ["172.30.80.80/32", "10.0.0.0/8"]
    monkeypatch.setenv("BPO_TRUSTED_PROXIES", "nginx")
    with pytest.raises(ValidationError, match="'nginx' is not an address or a CIDR"):
        Settings()


def test_tokens_made_before_the_migration_get_an_expiry_and_the_scope_decide(tmp_path: Path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")
        connection.execute(
            sa.text("INSERT INTO api_token (id, owner, name, created_at) VALUES ('h', 'li@acme.example', 'old', :t)"),
            {"t": datetime.now(UTC)},
        )
        command.upgrade(config, "0006_api_tokens")
        scope, expires = connection.execute(sa.text("SELECT scope, expires_at FROM api_token")).one()
    assert scope == "decide"
    days = (datetime.fromisoformat(str(expires)).replace(tzinfo=UTC) - datetime.now(UTC)).days
    assert 89 <= days <= 90
