"""The OpenAPI document a partner builds a client from (``/openapi.json``).

FastAPI draws the paths from the routes; this module adds what the routes do
not say, from one table (:data:`OPERATIONS`, one entry per operation, which a
test holds to the routes):

- who may call: the OAuth2 client credentials scheme (``private_key_jwt`` at
  ``/oauth2/token``) and the scopes each operation needs; public operations
  declare none;
- what is sent: a request body per partner format and media type, linked to
  the native formats' JSON Schemas (``native_schemas``); ``fmt`` an enum of
  the formats registered, and each format also as a path of its own, so a
  generated client gets a typed method per format; the token request's form;
- what comes back: the answers typed (``response_models``), and every error
  as ``application/problem+json``, naming the problem types it can be.

``tests/api/test_schema_fuzz.py`` runs schemathesis against the document a
live gateway serves: no 5xx, and every answer as documented.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from adapters import AdapterRegistry
from gateway.api import docs_pages, inbox, native_schemas
from gateway.api import response_models as answers
from gateway.api.auth import JWKS_PATH, TOKEN_PATH
from gateway.errors import GatewayError
from gateway.identity.caller import ACKNOWLEDGE, READ_DELIVERIES, READ_EXCHANGES, SUBMIT

INBOUND = "/v1/inbound/{fmt}"
PROBLEM_MEDIA_TYPE = "application/problem+json"
OAUTH2, BEARER, SESSION = "partnerClientCredentials", "partnerAccessToken", "personSession"

SCOPES = {
    SUBMIT: "Submit records in the formats the client's registration allows.",
    READ_EXCHANGES: "Read the exchanges the client's partner submitted.",
    READ_DELIVERIES: "Read the copies addressed to the client's partner.",
    ACKNOWLEDGE: "Acknowledge copies received.",
}

DESCRIPTION = f"""\
Policy-checked, minimised, audited exchange between partner agencies.

**Partner systems** authenticate with OAuth2 client credentials: sign a
short-lived JWT assertion with your registered key (`private_key_jwt`,
RFC 7523) and post it to `{TOKEN_PATH}`; send the access token as
`Authorization: Bearer <token>` on every call. The gateway's signing keys are
published at `{JWKS_PATH}`. Each operation names the scope it needs.

**Records** go to `POST /v1/inbound/{{fmt}}` in their native format, with its media
type in `Content-Type`; each format also has a path of its own with its body
typed (`POST /v1/inbound/police`, ...). The answer is `202` with one decision per
candidate recipient: a policy denial is a decision, not an error.

**Errors** are RFC 9457 `{PROBLEM_MEDIA_TYPE}`; `type` names the kind of problem
and stays stable.
"""

TAGS = [
    {"name": "exchange", "description": "Submit records and follow what became of them."},
    {"name": "auth", "description": "Partner systems' access tokens (OAuth2 client credentials)."},
    {"name": "meta", "description": "Formats, health and metrics."},
    {"name": "people", "description": "People's sign-in (OpenID Connect); a browser's session."},
    {"name": "inbox", "description": "A person's inbox: the copies their desks must acknowledge."},
    {
        "name": "audit",
        "description": "The audit trail for auditors and the DPO: search, subject access, "
        "timelines, verification.",
    },
]


@dataclass(frozen=True)
class Operation:
    """What the routes do not say about one operation."""

    operation_id: str
    summary: str
    #: The partner scopes it needs; None: no partner token (public, or a person's session).
    scopes: tuple[str, ...] | None = None
    session: bool = False
    #: Success answers by status.
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Errors by status: the problem types (slugs) each can be.
    errors: dict[int, tuple[str, ...]] = field(default_factory=dict)
    #: Whether a rate limit applies (429).
    limited: bool = False
    #: Errors answered with a schema other than Problem, by status.
    problems: dict[int, str] = field(default_factory=dict)
    #: Parameters the route reads from the request itself, undeclared.
    parameters: tuple[dict[str, Any], ...] = ()


def _json(schema: str, description: str, **extra: Any) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        **extra,
    }


def _object(description: str) -> dict[str, Any]:
    """A JSON answer described in words (its members in docs/api.md)."""
    schema = {"schema": {"type": "object"}}
    return {"description": description, "content": {"application/json": schema}}


def _header(description: str, **schema: Any) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string", **schema}}


def _redirect(description: str) -> dict[str, Any]:
    return {"description": description, "headers": {"Location": _header("Where to go next.")}}


_NO_STORE = {"Cache-Control": _header("`no-store`: never cache a token.")}
_NO_STORE_ITEM = {"Cache-Control": _header("`no-store`: never cache what a person reads.")}
#: The errors any operation that needs a partner's token can answer.
_TOKEN_ERRORS: dict[int, tuple[str, ...]] = {
    401: ("unauthenticated",),
    403: ("forbidden", "unknown-partner"),
}

#: What every call of the auditor's API may answer besides its own: no session,
#: not the auditor or dpo role, people's sign-in not configured, the store away.
_AUDITOR_READ: dict[int, tuple[str, ...]] = {
    401: ("not-signed-in",),
    403: ("role-required",),
    404: ("sign-in-not-configured",),
    503: ("service-unavailable",),
}

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("post", INBOUND): Operation(
        "submit",
        "Submit a record (or a batch) in a partner format",
        scopes=(SUBMIT,),
        answers={
            "202": {
                "description": "Accepted: one record's decisions, or a batch's answer per record.",
                "headers": {
                    "Idempotent-Replayed": _header(
                        "`true` on the original answer to a retried Idempotency-Key.",
                        enum=["true"],
                    )
                },
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                {"$ref": "#/components/schemas/Accepted"},
                                {"$ref": "#/components/schemas/BatchAccepted"},
                            ]
                        }
                    }
                },
            }
        },
        errors={
            400: ("malformed-body", "invalid-idempotency-key"),
            **_TOKEN_ERRORS,
            404: ("unknown-format",),
            409: ("idempotency-conflict",),
            413: ("payload-too-large", "batch-too-large"),
            415: ("unsupported-media-type",),
            422: ("invalid-record",),
            503: ("service-unavailable",),
        },
        limited=True,
    ),
    ("get", "/v1/exchanges/{exchange_id}"): Operation(
        "get_exchange",
        "What was decided for an exchange, and where each copy stands",
        scopes=(READ_EXCHANGES,),
        answers={"200": _json("ExchangeStatus", "The exchange's decisions and copies.")},
        errors={
            **_TOKEN_ERRORS,
            404: ("not-found",),
            503: ("service-unavailable",),
        },
        limited=True,
    ),
    ("post", "/v1/exchanges/{exchange_id}/acknowledge"): Operation(
        "acknowledge_copy",
        "The recipient acknowledges a copy it must acknowledge: its clock stops",
        scopes=(ACKNOWLEDGE,),
        answers={"200": _json("Acknowledged", "Acknowledged, now or before.")},
        errors={
            **_TOKEN_ERRORS,
            403: ("forbidden", "unknown-partner", "not-the-recipient"),
            404: ("not-found",),
            503: ("service-unavailable",),
        },
        limited=True,
    ),
    ("post", "/v1/exchanges/{exchange_id}/correction"): Operation(
        "correct_exchange",
        "Correct an exchange you sent: its recipients get the correction, or a withdrawal",
        scopes=(SUBMIT,),
        answers={
            "202": _object(
                "Accepted: the correction's decisions, `corrects`, `withdrawn_from` (told "
                "to disregard the original) and `also_permitted` (not sent: they never "
                "had the original)."
            )
        },
        errors={
            400: ("malformed-body",),
            **_TOKEN_ERRORS,
            404: ("not-found",),
            409: ("exchange-withdrawn", "exchange-superseded", "exchange-erased"),
            413: ("payload-too-large", "batch-too-large"),
            415: ("unsupported-media-type",),
            422: ("invalid-record",),
            503: ("service-unavailable",),
        },
        limited=True,
    ),
    ("post", "/v1/exchanges/{exchange_id}/withdrawal"): Operation(
        "withdraw_exchange",
        "Withdraw an exchange you sent: every recipient of a copy is told",
        scopes=(SUBMIT,),
        answers={"200": _object("Withdrawn: who was told, and which copies.")},
        errors={
            400: ("malformed-body",),
            **_TOKEN_ERRORS,
            404: ("not-found",),
            409: ("exchange-withdrawn", "exchange-superseded", "exchange-erased"),
            413: ("payload-too-large",),
            422: ("invalid-request",),
            503: ("service-unavailable",),
        },
        limited=True,
    ),
    ("get", "/v1/unrouted"): Operation(
        "list_unrouted",
        "The records no flow could route by place, waiting to be routed by hand",
        session=True,
        answers={"200": _object("The open items, oldest first; no record content.")},
        errors={
            401: ("not-signed-in",),
            403: ("role-required",),
            404: ("sign-in-not-configured",),
            503: ("service-unavailable",),
        },
    ),
    ("post", "/v1/unrouted/{exchange_id}/route"): Operation(
        "route_unrouted",
        "Route an unrouted record by hand: the place supplied, the policy decides",
        session=True,
        answers={"200": _object("Routed: the recipient's decision and its copy's delivery ids.")},
        errors={
            400: ("malformed-body",),
            401: ("not-signed-in",),
            403: ("csrf-rejected", "role-required"),
            404: ("not-found", "sign-in-not-configured"),
            413: ("payload-too-large",),
            422: ("recipient-not-permitted", "invalid-request"),
            503: ("service-unavailable",),
        },
    ),
    ("post", TOKEN_PATH): Operation(
        "token",
        "An access token for a partner system (OAuth2 client credentials)",
        answers={"200": _json("TokenResponse", "The access token.", headers=_NO_STORE)},
        errors={
            400: ("token-request-refused",),
            401: ("token-request-refused",),
            503: ("service-unavailable",),
        },
        limited=True,
        problems={400: "TokenProblem", 401: "TokenProblem"},
    ),
    ("get", JWKS_PATH): Operation(
        "jwks",
        "The keys the gateway signs access tokens with",
        answers={"200": _json("Jwks", "The public keys (JWKS).")},
    ),
    ("get", "/v1/audit/keys"): Operation(
        "audit_keys",
        "The public keys the audit trail's checkpoints are signed with",
        answers={
            "200": _object(
                "Every trusted Ed25519 public key (raw, base64) by key id, the current "
                "one first (docs/audit.md)."
            )
        },
    ),
    ("get", "/v1/adapters"): Operation(
        "list_adapters",
        "The partner formats and the media types each reads",
        answers={"200": _json("Adapters", "The formats, and those that failed to load.")},
    ),
    ("get", "/metrics"): Operation(
        "metrics",
        "Counters in the Prometheus text format",
        answers={
            "200": {
                "description": "The counters.",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
        errors={404: ("not-found",)},
    ),
    ("get", "/healthz"): Operation(
        "healthz",
        "Liveness",
        answers={"200": _json("Health", "The process answers.")},
    ),
    ("get", "/readyz"): Operation(
        "readyz",
        "Readiness",
        answers={
            "200": _json(
                "Ready", "The store answers (degraded: the broker does not; records wait)."
            )
        },
        errors={503: ("not-ready",)},
    ),
    ("get", "/auth/login"): Operation(
        "sign_in",
        "Start a person's sign-in at the identity provider",
        answers={"302": _redirect("To the identity provider.")},
        errors={
            400: ("unsafe-redirect",),
            404: ("sign-in-not-configured",),
            503: ("service-unavailable",),
        },
    ),
    ("get", "/auth/callback"): Operation(
        "sign_in_callback",
        "The identity provider's redirect back",
        parameters=tuple(
            {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
            for name in ("code", "state", "error", "error_description")
        ),
        answers={"303": _redirect("Signed in: to the page asked for.")},
        errors={
            400: ("sign-in-failed", "unsafe-redirect"),
            404: ("sign-in-not-configured",),
            503: ("service-unavailable",),
        },
    ),
    ("get", "/auth/me"): Operation(
        "me",
        "The person signed in",
        session=True,
        answers={"200": _json("Person", "The person, their roles and CSRF token.")},
        errors={401: ("not-signed-in",), 404: ("sign-in-not-configured",)},
    ),
    ("post", "/auth/logout"): Operation(
        "sign_out",
        "End the person's session",
        session=True,
        answers={
            "204": {"description": "Signed out."},
            "303": _redirect("Signed out: to `next`."),
        },
        errors={
            400: ("unsafe-redirect",),
            401: ("not-signed-in",),
            403: ("csrf-rejected",),
            404: ("sign-in-not-configured",),
        },
    ),
    ("get", "/v1/inbox"): Operation(
        "list_inbox",
        "The items of the desks the person signed in staffs, newest first",
        session=True,
        answers={"200": _json("InboxPage", "A page of items.", headers=_NO_STORE_ITEM)},
        errors={
            401: ("not-signed-in",),
            403: ("role-required",),
            404: ("sign-in-not-configured",),
            422: ("invalid-request",),
            503: ("service-unavailable",),
        },
    ),
    ("get", "/v1/inbox/{item_id}"): Operation(
        "get_inbox_item",
        "One item: the copy as its recipient received it (audited as a consultation)",
        session=True,
        answers={"200": _json("InboxItemDetail", "The item and its copy.", headers=_NO_STORE_ITEM)},
        errors={
            401: ("not-signed-in",),
            403: ("role-required",),
            404: ("not-found", "sign-in-not-configured"),
            503: ("service-unavailable",),
        },
    ),
    ("post", "/v1/inbox/{item_id}/acknowledge"): Operation(
        "acknowledge_inbox_item",
        "Acknowledge an item for its recipient: its clock stops",
        session=True,
        answers={
            "200": _json(
                "InboxAcknowledged", "Acknowledged, now or before.", headers=_NO_STORE_ITEM
            )
        },
        errors={
            401: ("not-signed-in",),
            403: ("csrf-rejected", "role-required", "not-the-recipient"),
            404: ("not-found", "sign-in-not-configured"),
            503: ("service-unavailable",),
        },
    ),
    ("get", "/v1/audit/entries"): Operation(
        "search_audit_entries",
        "Search the audit trail (auditor, dpo): newest first, keyset pages, or CSV",
        session=True,
        answers={
            "200": {
                "description": "A page of entries and `next_cursor`; with `format=csv` (or "
                "`Accept: text/csv`) every matching entry as CSV.",
                "headers": _NO_STORE_ITEM,
                "content": {
                    "application/json": {"schema": {"type": "object"}},
                    "text/csv": {"schema": {"type": "string"}},
                },
            }
        },
        errors={**_AUDITOR_READ, 400: ("client-error",), 422: ("invalid-request",)},
    ),
    ("post", "/v1/audit/subjects"): Operation(
        "look_up_audit_subject",
        "A person's audit pseudonym, from an identifier posted (never in a URL)",
        session=True,
        answers={"200": _object("The pseudonym, and how many exchanges are about the person.")},
        errors={
            **_AUDITOR_READ,
            400: ("malformed-body",),
            403: ("csrf-rejected", "role-required"),
            422: ("invalid-request",),
        },
    ),
    ("get", "/v1/audit/subjects/{pseudonym}/report"): Operation(
        "subject_access_report",
        "Every disclosure about one person, exemptions marked for the DPO (audited)",
        session=True,
        answers={"200": _object("The subject access report (members in docs/auditor.md).")},
        errors={**_AUDITOR_READ, 404: ("not-found", "sign-in-not-configured")},
    ),
    ("get", "/v1/audit/exchanges/{exchange_id}"): Operation(
        "audit_exchange_timeline",
        "An exchange's timeline from the audit trail (audited as a consultation)",
        session=True,
        answers={"200": _object("The steps, oldest first, and the entries they come from.")},
        errors={**_AUDITOR_READ, 404: ("not-found", "sign-in-not-configured")},
    ),
    ("get", "/v1/audit/chain"): Operation(
        "audit_chain_status",
        "The audit chain verified, and its signed checkpoints",
        session=True,
        answers={"200": _object("`verified`, `broken` (the first bad entry) or `unchecked`.")},
        errors={**_AUDITOR_READ, 422: ("invalid-request",)},
    ),
}

#: What each error status means, before the problem types it can be.
STATUS_MEANINGS = {
    400: "The request could not be read.",
    401: "No valid credential: see `WWW-Authenticate`.",
    403: "The caller may not do this.",
    404: "No such resource, or not one the caller may see.",
    409: "The request conflicts with an earlier one.",
    413: "Too large: split it and send again.",
    415: "A content type this format does not read.",
    422: "Read, but not valid: `problems` names each field at fault.",
    429: "Too many requests: wait as `Retry-After` says, then send again.",
    503: "A dependency is unavailable: send again later.",
}
#: Problem types answered outside the error tree (``gateway.api.problems``, ``/readyz``).
OTHER_PROBLEMS = {
    "not-ready": "The gateway is not ready",
    "invalid-request": "The request is not valid",
}
ANSWER_MODELS: tuple[type[BaseModel], ...] = (
    answers.Problem,
    answers.TokenProblem,
    answers.Accepted,
    answers.BatchAccepted,
    answers.ExchangeStatus,
    answers.Acknowledged,
    answers.TokenRequest,
    answers.TokenResponse,
    answers.Jwks,
    answers.Adapters,
    answers.Health,
    answers.Ready,
    answers.Person,
    *inbox.ANSWER_MODELS,
)


def install(app: FastAPI, registry: AdapterRegistry, *, docs: bool) -> None:
    """The document as ``app.openapi`` (built once), and, with ``docs``, its pages."""
    built: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not built:
            built.update(document(app, registry))
        return built

    app.openapi = openapi  # type: ignore[method-assign]
    if docs and app.openapi_url:
        docs_pages.install(app, app.openapi_url, app.title)


def document(app: FastAPI, registry: AdapterRegistry) -> dict[str, Any]:
    spec = get_openapi(
        title=app.title,
        version=app.version,
        description=DESCRIPTION,
        routes=app.routes,
        tags=TAGS,
    )
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for generated in ("HTTPValidationError", "ValidationError"):
        schemas.pop(generated, None)
    schemas.update(_answer_schemas())
    spec["components"]["securitySchemes"] = _security_schemes()
    for (method, path), op in OPERATIONS.items():
        operation = spec["paths"].get(path, {}).get(method)
        if operation is not None:
            _describe(operation, op)
    inbound = spec["paths"].get(INBOUND, {}).get("post")
    if inbound is not None:
        _inbound_bodies(spec, inbound, registry, schemas)
    _describe_token_request(spec)
    return spec


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) for every operation in a document."""
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            if method in {"get", "put", "post", "delete", "patch", "head", "options"}:
                yield method, path, operation


def _answer_schemas() -> dict[str, dict[str, Any]]:
    _, definitions = models_json_schema(
        [(m, "validation") for m in ANSWER_MODELS], ref_template="#/components/schemas/{model}"
    )
    return dict(definitions["$defs"])


def _security_schemes() -> dict[str, Any]:
    from gateway.api.sign_in import CSRF_HEADER, SESSION_COOKIE  # as app.py imports it

    return {
        OAUTH2: {
            "type": "oauth2",
            "description": "Client credentials, authenticated with a JWT the client signs "
            "(`private_key_jwt`, RFC 7523) or, where registered, a client secret.",
            "flows": {"clientCredentials": {"tokenUrl": TOKEN_PATH, "scopes": SCOPES}},
        },
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": f"An access token from `{TOKEN_PATH}` (or, on the embedded "
            "default, `gateway token PARTNER`), pasted as it is.",
        },
        SESSION: {
            "type": "apiKey",
            "in": "cookie",
            "name": SESSION_COOKIE,
            "description": "A person's session after signing in at `/auth/login`; a change "
            f"also sends the session's CSRF token in `{CSRF_HEADER}`.",
        },
    }


def _describe(operation: dict[str, Any], op: Operation) -> None:
    operation["operationId"] = op.operation_id
    operation["summary"] = op.summary
    if op.parameters:
        operation["parameters"] = [*operation.get("parameters", []), *op.parameters]
    if op.scopes is not None:
        operation["security"] = [{OAUTH2: list(op.scopes)}, {BEARER: list(op.scopes)}]
    elif op.session:
        operation["security"] = [{SESSION: []}]
    responses: dict[str, Any] = copy.deepcopy(op.answers)
    errors = dict(op.errors)
    if op.limited:
        errors[429] = _slugs_with_status(429)
    for status in sorted(errors):
        problem = op.problems.get(status, "Problem")
        responses[str(status)] = _error_response(status, errors[status], problem)
    operation["responses"] = responses


def _error_response(status: int, slugs: tuple[str, ...], problem: str) -> dict[str, Any]:
    titles = _problem_titles()
    lines = [STATUS_MEANINGS.get(status, "")]
    lines += [f"- `{slug}`: {titles[slug]}" for slug in slugs]
    answer: dict[str, Any] = {
        "description": "\n".join(lines).strip(),
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": f"#/components/schemas/{problem}"}}},
    }
    if status == 401 and problem == "Problem":  # a refused token request has no challenge
        answer["headers"] = {"WWW-Authenticate": _header("The challenge: how to authenticate.")}
    elif status == 429:
        answer["headers"] = {"Retry-After": _header("Seconds to wait.", pattern="^[0-9]+$")}
    return answer


def _problem_titles() -> dict[str, str]:
    return {**{e.slug: e.title for e in _error_classes()}, **OTHER_PROBLEMS}


def _slugs_with_status(status: int) -> tuple[str, ...]:
    # A status that depends on the instance is a property here, never equal to an int.
    return tuple(sorted({e.slug for e in _error_classes() if e.status == status}))


def _error_classes() -> Iterator[type[GatewayError]]:
    pending: list[type[GatewayError]] = [GatewayError]
    while pending:
        error = pending.pop()
        pending += error.__subclasses__()
        yield error


def _inbound_bodies(
    spec: dict[str, Any],
    inbound: dict[str, Any],
    registry: AdapterRegistry,
    schemas: dict[str, Any],
) -> None:
    """A body per format and media type: on ``/v1/inbound/{fmt}`` all of them, the
    formats an enum; on ``/v1/inbound/<format>`` that format's alone."""
    formats = registry.names()
    by_media_type: dict[str, list[dict[str, Any]]] = {}
    per_format: dict[str, dict[str, Any]] = {}
    for name in formats:
        adapter = registry.adapters[name]
        content = {}
        for media_type, body in native_schemas.bodies(adapter).items():
            schemas.update(body.components)
            content[media_type] = {"schema": body.schema}
            by_media_type.setdefault(media_type, []).append(body.schema)
        per_format[name] = content
    for parameter in inbound.get("parameters", []):
        if parameter["name"] == "fmt":
            parameter["description"] = "The partner format (`GET /v1/adapters` lists them)."
            parameter["schema"] = {"type": "string", "enum": formats}
    inbound["requestBody"] = {
        "required": True,
        "description": "A record in the format's native form, its media type in "
        "`Content-Type` (parameters such as `charset` are ignored).",
        "content": {
            media_type: {"schema": bodies[0] if len(bodies) == 1 else {"anyOf": bodies}}
            for media_type, bodies in by_media_type.items()
        },
    }
    for name in formats:
        path = INBOUND.replace("{fmt}", name)
        if path in spec["paths"]:
            continue  # a route of its own would answer there, not this one
        operation = copy.deepcopy(inbound)
        operation["operationId"] = f"submit_{_identifier(name)}"
        summary = registry.adapters[name].summary
        operation["summary"] = f"Submit a {name} record" + (f": {summary}" if summary else "")
        operation["parameters"] = [p for p in operation["parameters"] if p["name"] != "fmt"]
        operation["responses"].pop("404")  # the format is known here
        operation["requestBody"]["content"] = per_format[name]
        spec["paths"][path] = {"post": operation}


def _identifier(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


def _describe_token_request(spec: dict[str, Any]) -> None:
    token = spec["paths"].get(TOKEN_PATH, {}).get("post")
    if token is None:
        return
    token["requestBody"] = {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"$ref": "#/components/schemas/TokenRequest"}
            }
        },
    }
