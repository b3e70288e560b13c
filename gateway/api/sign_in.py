"""People's sign-in: OpenID Connect against the partnership's identity provider.

The authorization code flow with PKCE, through authlib's Starlette client, which
also checks the ID token (signature by the provider's JWKS, issuer, audience,
expiry, nonce). The session is a signed cookie (Starlette's SessionMiddleware):
HttpOnly, SameSite=Lax (the provider's redirect back is a cross-site
navigation, which Strict would strip the cookie from), Secure except on plain
http to a loopback host. A state-changing browser request carries the session's
CSRF token (``require_csrf``). Without ``oidc_issuer`` every ``/auth``
endpoint answers 404.

    GET  /auth/login?next=/path   redirect to the provider; ``next`` a path here
    GET  /auth/callback           the provider's redirect back: sign the person in
    GET  /auth/me                 who is signed in, their roles and CSRF token
    POST /auth/logout             end the session (CSRF token required)
"""

from __future__ import annotations

import hmac
import importlib
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.starlette_client import OAuth
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from joserfc.errors import JoseError
from starlette.datastructures import Headers
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.embedded.data_dir import secret_file
from gateway.embedded.hosts import is_loopback
from gateway.errors import (
    CsrfRejected,
    NotSignedIn,
    ServiceUnavailable,
    SignInConfigError,
    SignInFailed,
    SignInNotConfigured,
    UnsafeRedirect,
)
from gateway.identity.people import (
    CSRF,
    PERSON,
    map_roles,
    session_person,
    signed_in,
    unknown_roles,
)
from gateway.settings import Settings

log = logging.getLogger(__name__)

SESSION_COOKIE = "isg_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
#: Where the embedded default keeps its session secret, under the data directory.
SECRET_FILE = Path("keys") / "session-secret"
MIN_SECRET_LENGTH = 32
DEFAULT_NEXT = "/auth/me"
_NEXT = "sign_in_next"
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def _transport_errors() -> tuple[type[Exception], ...]:
    """What a provider that does not answer raises: authlib talks to it through
    httpx2 where that is installed, through httpx otherwise."""
    try:
        successor = importlib.import_module("httpx2")
    except ImportError:
        return (httpx.HTTPError,)
    return (httpx.HTTPError, successor.HTTPError)


_UNREACHABLE = _transport_errors()


@dataclass(frozen=True)
class _Provider:
    client: Any  # authlib's StarletteOAuth2App (untyped)
    issuer: str
    roles_claim: str
    role_map: dict[str, str]
    max_age_seconds: int


def safe_next(target: str) -> str:
    """``target`` if it is a path on this gateway, else UnsafeRedirect: never a
    scheme, a host (``//evil``), a backslash (browsers read ``/\\evil`` as a
    host) or a control character."""
    parts = urlsplit(target)
    if (
        not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target)
        or parts.scheme
        or parts.netloc
    ):
        raise UnsafeRedirect("next must be a path on this gateway, such as /auth/me")
    return target


async def require_csrf(request: Request) -> None:
    """FastAPI dependency for every state-changing browser request: the session's
    CSRF token must come back in the ``X-CSRF-Token`` header or the ``csrf_token``
    form field (``GET /auth/me`` gives it). Else 403."""
    expected = request.session.get(CSRF) if "session" in request.scope else None
    supplied = request.headers.get(CSRF_HEADER)
    if supplied is None and request.headers.get("content-type", "").lower().startswith(_FORMS):
        value = (await request.form()).get(CSRF_FIELD)
        supplied = value if isinstance(value, str) else None
    if not (
        isinstance(expected, str)
        and supplied
        and hmac.compare_digest(expected.encode(), supplied.encode())
    ):
        raise CsrfRejected(f"send the session's CSRF token in {CSRF_HEADER} or {CSRF_FIELD}")


def configuration_problems(settings: Settings) -> list[str]:
    """What stops people's sign-in from starting with these settings."""
    out = []
    if not settings.oidc_client_id:
        out.append("GATEWAY_OIDC_CLIENT_ID must be set with GATEWAY_OIDC_ISSUER")
    unknown = unknown_roles(settings.oidc_role_map)
    if unknown:
        out.append(f"GATEWAY_OIDC_ROLE_MAP names roles the gateway does not have: {unknown}")
    if settings.session_secret is None and not settings.embedded:
        out.append(
            "GATEWAY_SESSION_SECRET must be set when people sign in and an external "
            "database or broker is used"
        )
    if (
        settings.session_secret is not None
        and len(settings.session_secret.get_secret_value()) < MIN_SECRET_LENGTH
    ):
        out.append(f"GATEWAY_SESSION_SECRET must be at least {MIN_SECRET_LENGTH} characters")
    return out


def _loopback_http(scope: Scope) -> bool:
    if scope.get("scheme") != "http":
        return False
    return is_loopback(urlsplit("//" + Headers(scope=scope).get("host", "")).hostname)


class _Sessions:
    """SessionMiddleware whose cookie is Secure unless the request is plain http
    to a loopback host (a browser or test client on the embedded default)."""

    def __init__(self, app: ASGIApp, *, secret_key: str, max_age: int) -> None:
        common: dict[str, Any] = {
            "secret_key": secret_key,
            "session_cookie": SESSION_COOKIE,
            "max_age": max_age,
            "same_site": "lax",
        }
        self.secure = SessionMiddleware(app, https_only=True, **common)
        self.plain = SessionMiddleware(app, https_only=False, **common)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chosen = self.plain if _loopback_http(scope) else self.secure
        await chosen(scope, receive, send)


def _oauth_client(settings: Settings) -> Any:
    assert settings.oidc_issuer is not None
    secret = settings.oidc_client_secret
    oauth = OAuth()
    oauth.register(
        "partnership",
        client_id=settings.oidc_client_id,
        client_secret=secret.get_secret_value() if secret else None,
        server_metadata_url=settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={
            "scope": "openid profile email",
            "code_challenge_method": "S256",
            **({} if secret else {"token_endpoint_auth_method": "none"}),
        },
    )
    return oauth.create_client("partnership")


def _router(provider: _Provider | None) -> APIRouter:
    def configured() -> _Provider:
        if provider is None:
            raise SignInNotConfigured("people's sign-in is not configured (GATEWAY_OIDC_ISSUER)")
        return provider

    router = APIRouter(prefix="/auth", tags=["people"], dependencies=[Depends(configured)])

    @router.get("/login", response_class=RedirectResponse, status_code=302)
    async def login(request: Request, next_: str = Query(DEFAULT_NEXT, alias="next")) -> Response:
        """Start signing in at the identity provider; back at ``next`` afterwards."""
        target = safe_next(next_)
        client = configured().client
        try:
            response: Response = await client.authorize_redirect(
                request, request.url_for("sign_in_callback")
            )
        except _UNREACHABLE as exc:
            raise ServiceUnavailable("the identity provider did not answer") from exc
        request.session[_NEXT] = target
        return response

    @router.get("/callback", name="sign_in_callback", response_class=RedirectResponse)
    async def callback(request: Request) -> Response:
        """The identity provider's redirect back: exchange the code, check the ID
        token, and start the person's session."""
        provider = configured()
        try:
            token = await provider.client.authorize_access_token(
                request,
                claims_options={
                    "iss": {"essential": True, "value": provider.issuer},
                    "sub": {"essential": True},
                },
            )
        except _UNREACHABLE as exc:
            raise ServiceUnavailable("the identity provider did not answer") from exc
        except (AuthlibBaseError, JoseError) as exc:
            raise SignInFailed(f"the identity provider's answer was refused: {exc}") from exc
        claims = token.get("userinfo")
        if not claims:
            raise SignInFailed("the identity provider sent no ID token")
        target = request.session.get(_NEXT)
        target = safe_next(target) if isinstance(target, str) else DEFAULT_NEXT
        roles = map_roles(claims, provider.roles_claim, provider.role_map)
        request.session.clear()  # nothing from before the sign-in carries over
        request.session[PERSON] = session_person(claims, roles, provider.max_age_seconds)
        request.session[CSRF] = secrets.token_urlsafe(32)
        log.info("person %s signed in, roles %s", claims["sub"], sorted(roles) or "none")
        return RedirectResponse(target, status_code=303)

    @router.get("/me")
    def me(request: Request) -> JSONResponse:
        """The signed-in person: subject, name, roles, and the CSRF token that
        state-changing requests send back."""
        person = signed_in(request)
        if person is None:
            raise NotSignedIn("no one is signed in: GET /auth/login")
        body = {
            "subject": person["sub"],
            "name": person["name"],
            "roles": person["roles"],
            "expires_at": datetime.fromtimestamp(person["expires_at"], UTC).isoformat(),
            "csrf_token": request.session.get(CSRF),
        }
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    @router.post(
        "/logout",
        status_code=204,
        response_class=Response,
        dependencies=[Depends(require_csrf)],
    )
    def logout(request: Request, next_: str | None = Query(None, alias="next")) -> Response:
        """End the session; with ``next``, a 303 to that path."""
        target = None if next_ is None else safe_next(next_)
        person = signed_in(request)
        request.session.clear()
        if person is not None:
            log.info("person %s signed out", person["sub"])
        return RedirectResponse(target, status_code=303) if target else Response(status_code=204)

    return router


def install_sign_in(app: FastAPI, settings: Settings, data_dir: Path) -> None:
    """People's sign-in on ``app``: the session cookie and the ``/auth`` endpoints
    (answering 404 when ``oidc_issuer`` is unset)."""
    provider = None
    if settings.oidc_issuer is not None:
        problems = configuration_problems(settings)
        if problems:
            raise SignInConfigError("; ".join(problems))
        secret = (
            settings.session_secret.get_secret_value()
            if settings.session_secret is not None
            else secret_file(data_dir / SECRET_FILE, random_bytes=48)
        )
        app.add_middleware(_Sessions, secret_key=secret, max_age=settings.session_max_age_seconds)
        provider = _Provider(
            client=_oauth_client(settings),
            issuer=settings.oidc_issuer,
            roles_claim=settings.oidc_roles_claim,
            role_map=dict(settings.oidc_role_map),
            max_age_seconds=settings.session_max_age_seconds,
        )
    app.include_router(_router(provider))
