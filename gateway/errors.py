"""One error tree for the gateway; each error has a stable type slug.

    GatewayError                      base; never raised itself
    ├── ClientError                   the caller's mistake: 4xx, nothing stored
    │   ├── MalformedBody             body is not parseable (bad JSON, bad CSV)
    │   ├── UnsupportedMediaType      content type the adapter does not read
    │   ├── InvalidRecord             parsed, but a record or field is wrong
    │   ├── UnknownFormat             no adapter for the format in the URL
    │   ├── UnknownPartner            the submitting partner is not in the agreement
    │   ├── Unauthenticated           no valid access token (or session): 401, WWW-Authenticate
    │   ├── Forbidden                 the token's scopes or formats do not allow it: 403
    │   ├── TokenRequestRefused       POST /oauth2/token refused (RFC 6749 error code)
    │   ├── TooManyRequests           a client (or address) over its rate limit: 429, Retry-After
    │   ├── PayloadTooLarge           a body over max_body_bytes
    │   ├── BatchTooLarge             a batch with more rows than an adapter takes
    │   ├── InvalidIdempotencyKey     an Idempotency-Key that is empty, too long or unprintable
    │   ├── IdempotencyConflict       the key came with another body, or its request is in flight
    │   ├── NotSignedIn               no person signed in, or the session is forged or expired: 401
    │   ├── RoleRequired              the person signed in holds none of the roles needed: 403
    │   ├── CsrfRejected              a browser's state-changing request without its CSRF token
    │   ├── SignInFailed              the identity provider's answer to a sign-in was refused
    │   ├── UnsafeRedirect            a sign-in's ``next`` that is not a path on this gateway
    │   ├── NotTheRecipient           acknowledging a copy the caller did not receive: 403
    │   ├── ExchangeWithdrawn         correcting or withdrawing an exchange already withdrawn: 409
    │   ├── ExchangeSuperseded        correcting or withdrawing a version already corrected: 409
    │   ├── ExchangeErased            correcting or withdrawing a record erased (retention): 409
    │   ├── RecipientNotPermitted     routing an unrouted record to a recipient the policy refuses
    │   └── NotFound                  a resource id that does not exist
    │       ├── UnknownTopic          `gateway messages` for a topic the broker does not have
    │       └── SignInNotConfigured   /auth/... when people's sign-in is not configured
    ├── ServiceUnavailable            a dependency (store, broker) is down: 503, retry
    ├── PolicyLoadError               a policy bundle that does not load or lint
    ├── PartnersConfigError           the partners file does not load, or a key it names is unset
    ├── ClientsConfigError            the clients file does not load, or a client's keys do not
    ├── SignInConfigError             people's sign-in is configured, but not completely
    ├── StoreBehind                   the store is at an older migration than this gateway needs
    └── WorkersFailed                 serve --workers: API processes that cannot start or stay up

A policy *denial* is not an error: it is a decision, recorded and returned.
The HTTP layer turns every GatewayError into RFC 9457 problem+json in one
handler (``gateway.api.problems``); the CLI prints ``str(error)`` and exits 2.
The last three stop the gateway starting; they reach the operator, not a partner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

PROBLEM_BASE = "https://isg-gateway.example/problems/"


def field_path(loc: Sequence[int | str], whole: str = "(record)") -> str:
    """A pydantic error location as a field path: ``('persons', 0, 'pnc_id')`` ->
    ``persons[0].pnc_id``; ``whole`` names the empty location (the whole thing)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or whole


@dataclass(frozen=True)
class FieldProblem:
    """One thing wrong with one field of one record."""

    field: str
    message: str
    record: int | str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "message": self.message}
        if self.record is not None:
            out["record"] = self.record
        return out


@dataclass
class GatewayError(Exception):
    detail: str
    problems: list[FieldProblem] = field(default_factory=list)

    slug: ClassVar[str] = "gateway-error"
    title: ClassVar[str] = "Gateway error"
    status: ClassVar[int] = 500

    def __str__(self) -> str:
        lines = [self.detail]
        lines += [
            f"  - {'record ' + str(p.record) + ': ' if p.record is not None else ''}"
            f"{p.field}: {p.message}"
            for p in self.problems
        ]
        return "\n".join(lines)

    @property
    def type_uri(self) -> str:
        return PROBLEM_BASE + self.slug

    def headers(self) -> dict[str, str]:
        """Response headers the answer must carry (a challenge, say)."""
        return {}

    def members(self) -> dict[str, Any]:
        """Extra members of the problem document."""
        return {}


class ClientError(GatewayError):
    slug = "client-error"
    title = "Bad request"
    status = 400


class MalformedBody(ClientError):
    slug = "malformed-body"
    title = "The request body could not be parsed"
    status = 400


class UnsupportedMediaType(ClientError):
    slug = "unsupported-media-type"
    title = "Unsupported content type"
    status = 415


class InvalidRecord(ClientError):
    slug = "invalid-record"
    title = "The record is not valid"
    status = 422


class UnknownFormat(ClientError):
    slug = "unknown-format"
    title = "No adapter for this format"
    status = 404


class UnknownPartner(ClientError):
    slug = "unknown-partner"
    title = "The submitting partner is not a party to the agreement"
    status = 403


@dataclass
class Unauthenticated(ClientError):
    """No access token, or one that is expired, forged, or not for this gateway."""

    #: RFC 6750 error code for the challenge; empty when no token came at all.
    error: str = "invalid_token"
    slug: ClassVar[str] = "unauthenticated"
    title: ClassVar[str] = "Authentication required"
    status: ClassVar[int] = 401

    def headers(self) -> dict[str, str]:
        if not self.error:
            return {"WWW-Authenticate": 'Bearer realm="isg-gateway"'}
        return {"WWW-Authenticate": f'Bearer realm="isg-gateway", error="{self.error}"'}


@dataclass
class Forbidden(ClientError):
    """A valid caller asking for what its registration does not allow."""

    #: The scope the request needed, for the challenge; None for a format refused.
    scope: str | None = None
    slug: ClassVar[str] = "forbidden"
    title: ClassVar[str] = "Not allowed for this caller"
    status: ClassVar[int] = 403

    def headers(self) -> dict[str, str]:
        challenge = 'Bearer realm="isg-gateway", error="insufficient_scope"'
        if self.scope is not None:
            challenge += f', scope="{self.scope}"'
        return {"WWW-Authenticate": challenge}


@dataclass
class TooManyRequests(ClientError):
    retry_after: int = 1
    slug: ClassVar[str] = "too-many-requests"
    title: ClassVar[str] = "Too many requests"
    status: ClassVar[int] = 429

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


@dataclass
class TokenRequestRefused(ClientError):
    """The token endpoint refused: ``error`` is RFC 6749's code (``invalid_client``,
    ``invalid_grant``, ``invalid_scope``, ``unsupported_grant_type``, ``invalid_request``),
    also a member of the problem so OAuth2 clients read it as they expect."""

    error: str = "invalid_request"
    slug: ClassVar[str] = "token-request-refused"
    title: ClassVar[str] = "The token request was refused"

    @property
    def status(self) -> int:  # type: ignore[override]
        return 401 if self.error == "invalid_client" else 400

    def headers(self) -> dict[str, str]:
        return {"Cache-Control": "no-store"}

    def members(self) -> dict[str, Any]:
        return {"error": self.error, "error_description": self.detail}


class PayloadTooLarge(ClientError):
    slug = "payload-too-large"
    title = "The request body is too large"
    status = 413


class BatchTooLarge(ClientError):
    """A batch with more rows than ``adapters.MAX_BATCH_ROWS``: split it and resend."""

    slug = "batch-too-large"
    title = "The batch has too many records"
    status = 413


class InvalidIdempotencyKey(ClientError):
    slug = "invalid-idempotency-key"
    title = "The Idempotency-Key header is not valid"
    status = 400


class IdempotencyConflict(ClientError):
    slug = "idempotency-conflict"
    title = "The Idempotency-Key was already used"
    status = 409


class NotTheRecipient(ClientError):
    """Only the recipient of a copy may acknowledge it: the sender, say, cannot stop
    the clock for the people who must act."""

    slug = "not-the-recipient"
    title = "Only the recipient may acknowledge"
    status = 403


class ExchangeErased(ClientError):
    """The exchange's contents were erased at the end of the agreement's retention
    period: there is no record left to correct or withdraw."""

    slug = "exchange-erased"
    title = "The exchange's contents were erased"
    status = 409


class ExchangeWithdrawn(ClientError):
    """The sender withdrew the exchange: its recipients were told to disregard it, so
    there is nothing left to correct or withdraw."""

    slug = "exchange-withdrawn"
    title = "The exchange was withdrawn"
    status = 409


class ExchangeSuperseded(ClientError):
    """Only the latest version of a record may be corrected or withdrawn: the one
    its recipients hold now."""

    slug = "exchange-superseded"
    title = "The exchange was corrected: act on its latest correction"
    status = 409


class RecipientNotPermitted(ClientError):
    """A coordinator chose a recipient the policy does not permit even with the place
    supplied: the policy, not the coordinator, decides what crosses."""

    slug = "recipient-not-permitted"
    title = "The policy does not permit this recipient"
    status = 422


class NotFound(ClientError):
    slug = "not-found"
    title = "Not found"
    status = 404


class UnknownTopic(NotFound):
    slug = "unknown-topic"
    title = "No such topic"
    status = 404


class NotSignedIn(ClientError):
    """A people's endpoint with no session, or a cookie that is forged, tampered
    with or expired. The challenge names the sign-in page (the Cookie scheme of
    draft-broyer-http-cookie-auth: browsers sign in by form, not by header)."""

    slug = "not-signed-in"
    title = "Sign in first"
    status = 401

    def headers(self) -> dict[str, str]:
        return {
            "WWW-Authenticate": 'Cookie realm="isg-gateway", form-action="/auth/login", '
            'cookie-name="isg_session"'
        }


class RoleRequired(ClientError):
    slug = "role-required"
    title = "The person signed in does not hold the role this needs"
    status = 403


class CsrfRejected(ClientError):
    slug = "csrf-rejected"
    title = "The request does not carry the session's CSRF token"
    status = 403


class SignInFailed(ClientError):
    """The callback's state, code or ID token did not check out: start again."""

    slug = "sign-in-failed"
    title = "Signing in failed"
    status = 400


class UnsafeRedirect(ClientError):
    slug = "unsafe-redirect"
    title = "The redirect target is not a path on this gateway"
    status = 400


class SignInNotConfigured(NotFound):
    slug = "sign-in-not-configured"
    title = "People's sign-in is not configured"
    status = 404


class ServiceUnavailable(GatewayError):
    slug = "service-unavailable"
    title = "A dependency of the gateway is unavailable"
    status = 503


class PolicyLoadError(GatewayError):
    slug = "policy-load-error"
    title = "The policy bundle could not be loaded"
    status = 500


class PartnersConfigError(GatewayError):
    slug = "partners-config-error"
    title = "The partners file does not load"
    status = 500


class ClientsConfigError(GatewayError):
    slug = "clients-config-error"
    title = "The partner clients' registrations cannot be used"
    status = 500


class StoreBehind(GatewayError):
    """An external store not yet migrated to this gateway's schema: `gateway db upgrade`."""

    slug = "store-behind"
    title = "The store's migrations are behind the gateway"
    status = 503


class WorkersFailed(GatewayError):
    """The API worker processes cannot start or keep running; the detail says why."""

    slug = "workers-failed"
    title = "The API worker processes failed"
    status = 500


class SignInConfigError(GatewayError):
    slug = "sign-in-config-error"
    title = "People's sign-in is not completely configured"
    status = 500
