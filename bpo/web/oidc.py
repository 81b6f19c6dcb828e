"""Single sign-on: OpenID Connect's authorization code flow with PKCE, through Authlib, with the
provider's settings read from its discovery document and its ID tokens checked against its keys."""

from __future__ import annotations

import secrets
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import httpx
from authlib.deprecate import AuthlibDeprecationWarning
from joserfc import jwt
from joserfc.jwk import KeySet

with warnings.catch_warnings():  # Authlib announces its move to httpx2 on import; httpx serves
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client


SCOPES = "openid email profile"
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
    _config: dict[str, Any] = field(default_factory=dict)
    _keys: KeySet | None = None
    _seen_tokens: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)

    async def config(self) -> dict[str, Any]:
        """The provider's discovery document, fetched once."""
        if not self._config:
            url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
            response = await self.http.get(url, timeout=10)
            response.raise_for_status()
            self._config = response.json()
            if self._config.get("issuer") != self.issuer:
                raise SignInFailed("the identity provider's discovery document names another issuer")
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
        return verified_email(merged), claims["sub"], groups_of(merged, self.groups_claim)

    async def _id_token_claims(self, id_token: str, nonce: str) -> dict[str, Any]:
        if not id_token:
            raise SignInFailed("the identity provider sent no ID token")
        try:
            decoded = jwt.decode(id_token, await self._keyset())
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
        """What the provider says about the holder of ``access_token`` (also how the API checks
        an access token sent as a bearer token); remembered for a minute."""
        now = time.monotonic()
        seen = self._seen_tokens.get(access_token)
        if seen and seen[0] > now:
            return seen[1]
        conf = await self.config()
        response = await self.http.get(
            conf["userinfo_endpoint"], headers={"Authorization": f"Bearer {access_token}"}, timeout=10
        )
        if response.status_code != 200:
            raise SignInFailed("the identity provider does not know this token")
        info: dict[str, Any] = response.json()
        if len(self._seen_tokens) > 10_000:
            self._seen_tokens.clear()
        self._seen_tokens[access_token] = (now + 60, info)
        return info


def groups_of(claims: dict[str, Any], claim: str) -> tuple[str, ...]:
    """The values of the groups claim ``claim``: a list of strings (or one string); nothing else
    counts, and a person's list is cut at `MAX_GROUPS` values of at most 256 characters."""
    value = claims.get(claim)
    values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    return tuple(v for v in values if isinstance(v, str) and 0 < len(v) <= 256)[:MAX_GROUPS]


def verified_email(claims: dict[str, Any]) -> str:
    """The verified address among a person's claims, or `SignInFailed`."""
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise SignInFailed("the identity provider gave no email address; ask for the 'email' scope")
    if claims.get("email_verified") is False:
        raise SignInFailed("the identity provider has not verified this email address")
    return email.lower()
