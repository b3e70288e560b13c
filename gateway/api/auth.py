"""Partner systems' credentials over HTTP: the token endpoint, the published keys, and
the check every protected endpoint makes of its caller.

A refused attempt is audited (who tried what, never the body); the answer is
401 or 403 problem+json with ``WWW-Authenticate``, never data.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from gateway.api.rate_limits import RateLimits
from gateway.audit import Action, AuditEntry
from gateway.audit.subjects import current_trace_id
from gateway.embedded.hosts import is_loopback
from gateway.errors import Forbidden, GatewayError, TokenRequestRefused, UnknownPartner
from gateway.identity.caller import Caller
from gateway.identity.tokens import require_scope
from gateway.runtime import Runtime
from gateway.store.audit_log import append

log = logging.getLogger(__name__)
TOKEN_PATH = "/oauth2/token"
JWKS_PATH = "/.well-known/jwks.json"
#: The largest token request read: a form with an assertion, well under this.
MAX_TOKEN_REQUEST_BYTES = 16 * 1024


def audit_refusal(runtime: Runtime, request: Request, actor: str, error: GatewayError) -> None:
    """One ``access-refused`` entry: the caller as far as known, the method and path,
    and why; never the body or the credential."""
    entry = AuditEntry(
        action=Action.ACCESS_REFUSED,
        actor=actor,
        details={
            "method": request.method,
            "path": request.url.path,
            "status": error.status,
            "reason": error.slug,
            "detail": error.detail[:300],
            "justification": "a request refused for want of the credentials it needed",
            **({"trace_id": trace_id} if (trace_id := current_trace_id()) else {}),
        },
    )
    try:
        with runtime.store.transaction() as conn:
            append(conn, [entry])
    except GatewayError as store_down:  # the refusal stands; the trail says why it is short
        log.warning("could not audit a refused request: %s", store_down)


def partner(
    runtime: Runtime, scope: str, limits: RateLimits
) -> Callable[[Request], Awaitable[Caller]]:
    """A dependency: the partner system calling, with ``scope``, a party to the agreement,
    within its rate limit."""

    async def caller(request: Request) -> Caller:
        try:
            who = runtime.tokens.caller(request.headers.get("authorization"))
        except GatewayError as refused:
            limits.address(request)  # before auditing: a flood must not fill the trail
            await run_in_threadpool(audit_refusal, runtime, request, "anonymous", refused)
            raise
        assert who.client_id is not None
        limits.client(who.client_id)
        try:
            require_scope(who, scope)
            if who.partner not in runtime.bundle.parties:
                raise UnknownPartner(
                    f"{who.partner!r} is not a party to {runtime.bundle.agreement_id}"
                )
        except GatewayError as refused:
            await run_in_threadpool(audit_refusal, runtime, request, who.actor, refused)
            raise
        return who

    return caller


async def refuse_format(runtime: Runtime, request: Request, who: Caller, fmt: str) -> None:
    """A partner submits only the formats its registration allows."""
    if fmt in who.formats or fmt not in runtime.registry.adapters:
        return  # an unknown format is the adapter registry's answer to give
    refused = Forbidden(f"client {who.client_id} may not submit {fmt!r} records")
    await run_in_threadpool(audit_refusal, runtime, request, who.actor, refused)
    raise refused


def operations_allowed(runtime: Runtime, request: Request) -> bool:
    """``/metrics`` and ``/readyz``'s detail: for loopback callers (a sidecar, the
    operator's shell) unless the settings open them (a scraper behind a network policy)."""
    if runtime.settings.public_operations:
        return True
    return is_loopback(request.client.host if request.client else None)


def install_token_endpoints(app: FastAPI, runtime: Runtime, limits: RateLimits) -> None:
    @app.post(TOKEN_PATH, tags=["auth"])
    async def token(request: Request) -> JSONResponse:
        """OAuth2 client credentials: authenticate with a signed assertion
        (``private_key_jwt``, RFC 7523) or, where registered, a client secret; the
        answer is a short-lived access token."""
        limits.address(request)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_TOKEN_REQUEST_BYTES:
                raise TokenRequestRefused("the token request is too large")
        try:
            form = dict(parse_qsl(body.decode("utf-8"), strict_parsing=False))
        except UnicodeDecodeError:
            raise TokenRequestRefused("the token request is not UTF-8 form data") from None
        token_url = str(request.url.replace(query=""))
        try:
            answer = await run_in_threadpool(
                runtime.tokens.issue, form, request.headers.get("authorization"), token_url
            )
        except GatewayError as refused:
            actor = f"client:{form.get('client_id')}" if form.get("client_id") else "anonymous"
            await run_in_threadpool(audit_refusal, runtime, request, actor, refused)
            raise
        return JSONResponse(answer, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    @app.get(JWKS_PATH, tags=["auth"])
    def jwks() -> JSONResponse:
        """The public keys the gateway's access tokens are signed with."""
        return JSONResponse(
            runtime.tokens.keys.public_jwks(), headers={"Cache-Control": "max-age=300"}
        )
