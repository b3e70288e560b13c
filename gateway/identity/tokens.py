"""OAuth2 client credentials for partner systems: the token endpoint and the check of
every access token.

A partner system authenticates at ``POST /oauth2/token`` with a signed JWT
assertion (``private_key_jwt``, RFC 7523, the pattern NHS England's APIs use)
or, where its registration says so, a client secret; it gets a short-lived
access token, a JWT the gateway signs (``keys.SigningKeys``). By
configuration, tokens from the partnership's own identity provider are
accepted instead, checked against its JWKS URL.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx
from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from gateway.errors import ClientsConfigError, Forbidden, TokenRequestRefused, Unauthenticated
from gateway.identity.caller import Caller
from gateway.identity.clients import (
    CLIENT_SECRET,
    PRIVATE_KEY_JWT,
    ClientRegistration,
    ClientRegistry,
)
from gateway.identity.keys import ALGORITHM, SigningKeys

CLIENT_CREDENTIALS = "client_credentials"
#: Algorithms a client's assertion may be signed with (never ``none``, never HMAC).
ASSERTION_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384"]
#: The longest an assertion may be valid for: RFC 7523 asks for short-lived ones.
MAX_ASSERTION_SECONDS = 300

#: (client id, jti, seconds since the epoch it expires) -> False if seen before.
RememberAssertion = Callable[[str, str, float], bool]


@dataclass(frozen=True)
class TokenSettings:
    issuer: str
    audience: str
    lifetime_seconds: int


class _Client:
    """A registration as authlib's assertion check expects a client to look."""

    def __init__(self, registration: ClientRegistration) -> None:
        self.registration = registration

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return self.registration.auth_method == PRIVATE_KEY_JWT and endpoint == "token"


class _Form:
    """The parts of a request authlib's assertion check reads."""

    def __init__(self, form: Mapping[str, str]) -> None:
        self.form = form
        self.client: _Client | None = None


class _AssertionCheck(JWTBearerClientAssertion):  # type: ignore[misc]
    def __init__(self, audiences: list[str], remember: RememberAssertion) -> None:
        super().__init__(validate_jti=True, leeway=30)
        self._audiences = audiences
        self._remember = remember

    def get_audiences(self) -> list[str]:
        return self._audiences

    def resolve_client_public_key(self, client: _Client) -> KeySet:
        return client.registration.public_keys()

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> Any:
        try:
            decoded = jwt.decode(assertion, resolve_key, algorithms=ASSERTION_ALGORITHMS)
        except JoseError as refused:
            raise InvalidClientError(description=refused.description) from None
        self.verify_claims(decoded.claims)
        return decoded.claims

    def validate_jti(self, claims: Mapping[str, Any], jti: str) -> bool:
        if not isinstance(jti, str) or not 0 < len(jti) <= 255:
            raise InvalidClientError(description="jti must be a string of 1 to 255 characters")
        expires = float(claims["exp"])
        if expires - time.time() > MAX_ASSERTION_SECONDS:
            raise InvalidClientError(
                description=f"the assertion must expire within {MAX_ASSERTION_SECONDS} s"
            )
        return self._remember(str(claims["sub"]), jti, expires)


class TokenService:
    """Issues access tokens to registered clients and checks the ones presented."""

    def __init__(
        self,
        clients: ClientRegistry,
        keys: SigningKeys,
        settings: TokenSettings,
        remember_assertion: RememberAssertion,
        external: ExternalTokens | None = None,
    ) -> None:
        self.clients = clients
        self.keys = keys
        self.settings = settings
        self.remember_assertion = remember_assertion
        self.external = external

    # -- POST /oauth2/token ----------------------------------------------------------
    def issue(
        self, form: Mapping[str, str], authorization: str | None, token_url: str
    ) -> dict[str, Any]:
        """Answer a client-credentials request: the token response, or
        TokenRequestRefused with RFC 6749's error code."""
        if form.get("grant_type") != CLIENT_CREDENTIALS:
            raise TokenRequestRefused(
                "only the client_credentials grant is offered", error="unsupported_grant_type"
            )
        client = self._authenticate(form, authorization, token_url)
        scopes = self._granted_scopes(client, form.get("scope"))
        return self.sign(client, scopes)

    def sign(self, client: ClientRegistration, scopes: tuple[str, ...]) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": self.settings.issuer,
            "aud": self.settings.audience,
            "sub": client.client_id,
            "client_id": client.client_id,
            "partner": client.partner,
            "scope": " ".join(scopes),
            "iat": now,
            "nbf": now,
            "exp": now + self.settings.lifetime_seconds,
            "jti": uuid.uuid4().hex,
        }
        key = self.keys.current
        token = jwt.encode({"alg": ALGORITHM, "kid": key.kid, "typ": "at+jwt"}, claims, key)
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.settings.lifetime_seconds,
            "scope": claims["scope"],
        }

    def _authenticate(
        self, form: Mapping[str, str], authorization: str | None, token_url: str
    ) -> ClientRegistration:
        if form.get("client_assertion"):
            check = _AssertionCheck([token_url, self.settings.issuer], self.remember_assertion)
            request = _Form(form)
            try:
                client = check(self._query_client, request)
            except InvalidClientError as refused:
                raise TokenRequestRefused(
                    f"the client assertion was refused: {refused.description}",
                    error="invalid_client",
                ) from None
            except ClientsConfigError as broken:
                raise TokenRequestRefused(str(broken), error="invalid_client") from None
            if client is None:
                raise TokenRequestRefused(
                    "client_assertion_type must be "
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    error="invalid_client",
                )
            registration: ClientRegistration = client.registration
            return registration
        client_id, secret = _secret_credentials(form, authorization)
        registration_or_none = self.clients.get(client_id)
        if (
            registration_or_none is None
            or registration_or_none.auth_method != CLIENT_SECRET
            or not registration_or_none.secret_matches(secret)
        ):
            raise TokenRequestRefused(
                "unknown client, or a wrong secret or authentication method",
                error="invalid_client",
            )
        return registration_or_none

    def _query_client(self, client_id: str) -> _Client | None:
        registration = self.clients.get(client_id)
        return None if registration is None else _Client(registration)

    @staticmethod
    def _granted_scopes(client: ClientRegistration, asked: str | None) -> tuple[str, ...]:
        if not asked:
            return client.scopes
        wanted = tuple(dict.fromkeys(asked.split()))
        beyond = [s for s in wanted if s not in client.scopes]
        if beyond:
            raise TokenRequestRefused(
                f"scopes {beyond} are not in this client's registration", error="invalid_scope"
            )
        return wanted

    # -- every request ------------------------------------------------------------
    def caller(self, authorization: str | None) -> Caller:
        """The partner system behind an ``Authorization: Bearer`` header, or
        Unauthenticated. Never trusts a partner named anywhere but in the token."""
        token = _bearer(authorization)
        if self.external is not None:
            claims = self.external.verify(token)
            client_id = claims.get("client_id") or claims.get("azp") or claims.get("sub")
        else:
            claims = self._verify_own(token)
            client_id = claims.get("client_id")
        registration = self.clients.get(str(client_id)) if client_id else None
        if registration is None:
            raise Unauthenticated("the token names no registered client")
        granted = set(str(claims.get("scope", "")).split()) & set(registration.scopes)
        return Caller(
            client_id=registration.client_id,
            partner=registration.partner,
            scopes=frozenset(granted),
            formats=frozenset(registration.formats),
        )

    def _verify_own(self, token: str) -> dict[str, Any]:
        return _verified_claims(
            token, self.keys.verifying(), [ALGORITHM], self.settings.issuer, self.settings.audience
        )


class ExternalTokens:
    """Access tokens issued by the partnership's own identity provider, checked against
    its published keys, fetched again when a token fails, at most once every
    ``refetch_seconds`` (so forged tokens cannot make the gateway hammer the provider)."""

    def __init__(
        self, jwks_url: str, issuer: str, audience: str, refetch_seconds: float = 30.0
    ) -> None:
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self.refetch_seconds = refetch_seconds
        self._keys: KeySet | None = None
        self._fetched_at = 0.0

    def _fetch(self) -> KeySet:
        self._fetched_at = time.monotonic()
        try:
            response = httpx.get(self.jwks_url, timeout=5)
            response.raise_for_status()
            return KeySet.import_key_set(response.json())
        except (httpx.HTTPError, ValueError) as exc:
            raise Unauthenticated(f"the identity provider's keys cannot be read: {exc}") from exc

    def verify(self, token: str) -> dict[str, Any]:
        if self._keys is None:
            self._keys = self._fetch()
        try:
            return _verified_claims(
                token, self._keys, ASSERTION_ALGORITHMS, self.issuer, self.audience
            )
        except Unauthenticated:
            if time.monotonic() - self._fetched_at < self.refetch_seconds:
                raise
            self._keys = self._fetch()  # the provider may have rotated its keys
            return _verified_claims(
                token, self._keys, ASSERTION_ALGORITHMS, self.issuer, self.audience
            )


def _verified_claims(
    token: str, keys: KeySet, algorithms: list[str], issuer: str, audience: str
) -> dict[str, Any]:
    try:
        decoded = jwt.decode(token, keys, algorithms=algorithms)
        jwt.JWTClaimsRegistry(
            leeway=30,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
        ).validate(decoded.claims)
    except (JoseError, ValueError) as refused:
        reason = getattr(refused, "description", None) or str(refused) or type(refused).__name__
        raise Unauthenticated(f"the access token was refused: {reason}") from None
    return dict(decoded.claims)


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated(
            "send an access token: Authorization: Bearer <token> (POST /oauth2/token)", error=""
        )
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be Bearer <token>", error="")
    return token.strip()


def _secret_credentials(form: Mapping[str, str], authorization: str | None) -> tuple[str, str]:
    """client_secret_basic (preferred) or client_secret_post."""
    if authorization and authorization.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
            client_id, _, secret = decoded.partition(":")
        except (ValueError, UnicodeDecodeError):
            raise TokenRequestRefused(
                "the Basic credentials are not base64 of id:secret", error="invalid_client"
            ) from None
        return unquote(client_id), unquote(secret)
    posted_id, posted_secret = form.get("client_id"), form.get("client_secret")
    if not posted_id or not posted_secret:
        raise TokenRequestRefused(
            "authenticate with a client_assertion (private_key_jwt) or a client secret",
            error="invalid_client",
        )
    return posted_id, posted_secret


def require_scope(caller: Caller, scope: str) -> None:
    if not caller.may(scope):
        raise Forbidden(f"this token does not allow {scope}", scope=scope)
