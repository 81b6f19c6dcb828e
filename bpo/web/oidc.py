"""Single sign-on: OpenID Connect's authorization code flow with PKCE, through Authlib, with the
provider's settings read from its discovery document and its ID tokens checked against its keys."""

from __future__ import annotations

import secrets
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog
from authlib.deprecate import AuthlibDeprecationWarning
from joserfc import jwt
from joserfc.jwk import KeySet

with warnings.catch_warnings():  # Authlib announces its move to httpx2 on import; httpx serves
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client


log = structlog.get_logger("bpo.web")
SCOPES = "openid email profile"
SIGNATURES = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
"""The provider's signatures accepted on its tokens: public-key ones only (never ``none``, never
a shared secret the client also holds)."""
DISCOVERY_TTL = 3600.0
"""Seconds the discovery document is kept before it is fetched (and its issuer checked) again."""
GROUPS_SCOPE = "groups"
MAX_GROUPS = 500


class SignInFailed(Exception):
    """The provider did not vouch for the person; the message says why, for the page."""


@dataclass
class Provider:
    """One OpenID Connect provider, as this app is registered with it."""

    issuer: str
    client_id: str
    client_secret: str | None
    http: httpx.AsyncClient
    groups_claim: str = "groups"
    """The claim that lists a person's groups (``BPO_OIDC_GROUPS_CLAIM``)."""
    email_claim: str | None = None
    """The claim the provider guarantees to hold a verified address (``BPO_OIDC_EMAIL_CLAIM``);
    unset: ``email``, counted only with ``email_verified`` true."""
    _config: dict[str, Any] = field(default_factory=dict)
    _config_until: float = 0.0
    _keys: KeySet | None = None
    _seen_tokens: dict[tuple[str, str], tuple[float, dict[str, Any]]] = field(default_factory=dict)

    async def config(self) -> dict[str, Any]:
        """The provider's discovery document, fetched again every `DISCOVERY_TTL` seconds; every
        fetch must name ``BPO_OIDC_ISSUER`` as its issuer, or nothing of it is used."""
        now = time.monotonic()
        if not self._config or now >= self._config_until:
            url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
            response = await self.http.get(url, timeout=10)
            response.raise_for_status()
            fetched = response.json()
            named = fetched.get("issuer") if isinstance(fetched, dict) else None
            if named != self.issuer:
                # Checked before it is kept: a refused document must not serve the next sign-in.
                self._config, self._keys = {}, None
                log.error("oidc_issuer_mismatch", expected=self.issuer, named=str(named)[:200])
                raise SignInFailed(
                    f"the identity provider's discovery document names another issuer than {self.issuer} "
                    "(BPO_OIDC_ISSUER)"
                )
            self._config, self._config_until, self._keys = fetched, now + DISCOVERY_TTL, None
        return self._config

    def _client(self, redirect_uri: str, scope: str = SCOPES) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret,
            scope=scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if self.client_secret else "none",  # noqa: S106
        )

    async def begin(self, redirect_uri: str) -> tuple[str, str, str, str]:
        """Where to send the browser, and the state, PKCE verifier and nonce to keep meanwhile."""
        conf = await self.config()
        verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
        # The groups scope only where the provider lists it: Okta and Entra ID refuse a sign-in that
        # asks for a scope they do not know, and Entra ID sends groups by the app's registration.
        offered = conf.get("scopes_supported") or []
        scope = SCOPES + (f" {GROUPS_SCOPE}" if isinstance(offered, list) and GROUPS_SCOPE in offered else "")
        async with self._client(redirect_uri, scope) as client:
            url, state = client.create_authorization_url(
                conf["authorization_endpoint"], code_verifier=verifier, nonce=nonce
            )
        return url, state, verifier, nonce

    async def finish(self, redirect_uri: str, code: str, verifier: str, nonce: str) -> tuple[str, str, tuple[str, ...]]:
        """Trade the code for tokens; the verified address, the subject and the groups of the person."""
        conf = await self.config()
        async with self._client(redirect_uri) as client:
            try:
                token = await client.fetch_token(conf["token_endpoint"], code=code, code_verifier=verifier)
            except Exception as error:
                raise SignInFailed(
                    f"the identity provider did not accept the sign-in ({type(error).__name__})"
                ) from None
        claims = await self._id_token_claims(token.get("id_token", ""), nonce)
        info = await self.userinfo(token["access_token"])
        if info.get("sub") != claims["sub"]:
            raise SignInFailed("the identity provider's answers disagree about who signed in")
        merged = {**info, **claims}
        return verified_email(merged, self.email_claim), claims["sub"], groups_of(merged, self.groups_claim)

    async def _id_token_claims(self, id_token: str, nonce: str) -> dict[str, Any]:
        if not id_token:
            raise SignInFailed("the identity provider sent no ID token")
        try:
            decoded = jwt.decode(id_token, await self._keyset(), algorithms=SIGNATURES)
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.client_id},
                nonce={"essential": True, "value": nonce},
                sub={"essential": True},
            ).validate(decoded.claims)
        except Exception as error:
            raise SignInFailed(f"the ID token did not verify ({type(error).__name__})") from None
        return decoded.claims

    async def _keyset(self) -> KeySet:
        if self._keys is None:
            response = await self.http.get((await self.config())["jwks_uri"], timeout=10)
            response.raise_for_status()
            self._keys = KeySet.import_key_set(response.json())
        return self._keys

    async def userinfo(self, access_token: str) -> dict[str, Any]:
        """What the provider says about the holder of ``access_token``."""
        conf = await self.config()
        response = await self.http.get(
            conf["userinfo_endpoint"], headers={"Authorization": f"Bearer {access_token}"}, timeout=10
        )
        if response.status_code != 200:
            raise SignInFailed("the identity provider does not know this token")
        info: dict[str, Any] = response.json()
        return info

    async def access_claims(self, access_token: str, client_id: str | None = None) -> dict[str, Any]:
        """The claims of an access token sent to the API, once it is shown to be issued to this
        app (``BPO_OIDC_CLIENT_ID``), or to ``client_id`` when given (the Temporal Web UI's own
        client, for the codec): a JWT checked against the provider's keys (signature, issuer,
        expiry, and ``aud``, ``azp`` or ``client_id`` naming that client), any other token by the
        provider's token introspection (RFC 7662, with this app's credentials). A token for
        another client, or an opaque one where the provider offers no introspection, is refused;
        the answer is remembered for a minute."""
        client = client_id or self.client_id
        now = time.monotonic()
        seen = self._seen_tokens.get((client, access_token))
        if seen and seen[0] > now:
            return seen[1]
        if access_token.count(".") == 2:
            claims = await self._jwt_access_claims(access_token, client)
            if (self.email_claim or "email") not in claims:  # many providers keep addresses out of access tokens
                info = await self.userinfo(access_token)
                if info.get("sub") != claims.get("sub"):
                    raise SignInFailed("the identity provider's answers disagree about whose token this is")
                claims = {**info, **claims}
        else:
            active = await self._introspect(access_token, client)
            info = await self.userinfo(access_token)
            if active.get("sub") is not None and info.get("sub") != active.get("sub"):
                raise SignInFailed("the identity provider's answers disagree about whose token this is")
            claims = {**active, **info}
        if len(self._seen_tokens) > 10_000:
            self._seen_tokens.clear()
        self._seen_tokens[(client, access_token)] = (now + 60, claims)
        return claims

    @staticmethod
    def _issued_to(claims: dict[str, Any], client: str) -> bool:
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        return client in audiences or client in (claims.get("azp"), claims.get("client_id"))

    async def _jwt_access_claims(self, access_token: str, client: str) -> dict[str, Any]:
        try:
            decoded = jwt.decode(access_token, await self._keyset(), algorithms=SIGNATURES)
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": self.issuer}, exp={"essential": True}, sub={"essential": True}
            ).validate(decoded.claims)
        except Exception as error:
            raise SignInFailed(f"the access token did not verify ({type(error).__name__})") from None
        if not self._issued_to(decoded.claims, client):
            raise SignInFailed("the access token was issued to another application")
        return decoded.claims

    async def _introspect(self, access_token: str, client: str) -> dict[str, Any]:
        endpoint = (await self.config()).get("introspection_endpoint")
        if not isinstance(endpoint, str) or not self.client_secret:
            # Userinfo answers for a token of any client: without introspection there is no telling.
            raise SignInFailed("an opaque access token cannot be checked: the provider offers no introspection")
        response = await self.http.post(
            endpoint,
            data={"token": access_token, "token_type_hint": "access_token"},
            auth=(self.client_id, self.client_secret),
            timeout=10,
        )
        if response.status_code != 200:
            raise SignInFailed("the identity provider did not answer the token introspection")
        body = response.json()
        if not isinstance(body, dict) or body.get("active") is not True:
            raise SignInFailed("the identity provider says this token is not active")
        if body.get("iss", self.issuer) != self.issuer or not self._issued_to(body, client):
            raise SignInFailed("the access token was issued to another application")
        if isinstance(body.get("exp"), int | float) and body["exp"] <= time.time():
            raise SignInFailed("the access token has expired")
        return body


def groups_of(claims: dict[str, Any], claim: str) -> tuple[str, ...]:
    """The values of the groups claim ``claim``: a list of strings (or one string); nothing else
    counts, and a person's list is cut at `MAX_GROUPS` values of at most 256 characters."""
    value = claims.get(claim)
    values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    return tuple(v for v in values if isinstance(v, str) and 0 < len(v) <= 256)[:MAX_GROUPS]


def verified_email(claims: dict[str, Any], email_claim: str | None = None) -> str:
    """The verified address among a person's claims, or `SignInFailed`: the value of
    ``email_claim`` when the operator names one the provider guarantees, else ``email`` with
    ``email_verified`` true (a missing ``email_verified`` is not verified)."""
    if email_claim:
        value = claims.get(email_claim)
        if not isinstance(value, str) or "@" not in value:
            raise SignInFailed(
                f"the identity provider gave no address in the claim '{email_claim}' (BPO_OIDC_EMAIL_CLAIM)"
            )
        return value.strip().lower()
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise SignInFailed("the identity provider gave no email address; ask for the 'email' scope")
    if claims.get("email_verified") not in (True, "true"):
        raise SignInFailed("the identity provider has not verified this email address")
    return email.lower()
