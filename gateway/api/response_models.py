"""The shapes of the API's answers, for its OpenAPI document.

The endpoints build their answers as plain dicts (the hot path pays for no
model); these models only describe them, so a partner can generate a typed
client. ``tests/api/test_schema_fuzz.py`` checks every answer against them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.errors import PROBLEM_BASE


class _Answer(BaseModel):
    # Answers may grow members; a client must ignore the ones it does not know.
    model_config = ConfigDict(extra="allow")


class FieldProblem(_Answer):
    """One thing wrong with one field of one record."""

    field: str = Field(description="The field's path, e.g. `persons[0].pnc_id`.")
    message: str
    record: int | str | None = Field(
        default=None, description="The record of a batch the problem belongs to (from 0)."
    )


class Problem(_Answer):
    """RFC 9457 problem details: every error the gateway answers."""

    type: str = Field(
        description=f"A stable URI naming the kind of problem: `{PROBLEM_BASE}<slug>`."
    )
    title: str
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong with this request, for a person.")
    instance: str = Field(description="The path of the request.")
    problems: list[FieldProblem] | None = Field(
        default=None, description="For a record that is not valid: each field at fault."
    )


class TokenProblem(Problem):
    """A refused token request: a problem that also carries RFC 6749's members."""

    error: Literal[
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "invalid_scope",
        "unauthorized_client",
        "unsupported_grant_type",
    ]
    error_description: str


class Decision(_Answer):
    """What the policy decided for one candidate recipient."""

    recipient: str
    effect: Literal["permit", "deny"]
    rules: list[str] = Field(
        description="The rules that decided; `default-deny` when none did; "
        "`unrouted` and the flow when the record gave no place to route it by."
    )
    reason: str
    purpose: str | None = Field(
        default=None, description="For a permit: the declared purpose it was permitted under."
    )


class _Outcome(_Answer):
    """Who receives a kept record, each decision, and what the sender must know."""

    exchange_id: str
    recipients: list[str] = Field(description="Who will receive a copy; empty: nobody.")
    decisions: list[Decision]
    unrouted: list[str] | None = Field(
        default=None,
        description="Recipients a flow would have chosen by where a person lives or which "
        "probation delivery unit manages them, had the record said: route it by hand.",
    )
    safety_net: str | None = Field(
        default=None,
        description="The agreement's 24/7 duty function, when an immediate record no named "
        "recipient may receive went to it under vital interests.",
    )
    notice: str | None = Field(
        default=None,
        description="Present when no recipient may receive the record, some are unrouted, "
        "or only the safety net received it.",
    )


class Accepted(_Outcome):
    """A single record kept: its exchange id and one decision per candidate recipient.
    A denial is a decision here, not an error."""

    policy_version: str = Field(
        description="The policy bundle's hash: exactly which files decided."
    )
    agreement_version: str = Field(description="The agreement's declared version.")


class RecordAccepted(_Outcome):
    record: int = Field(description="The record's place in the batch, from 0.")
    status: Literal["accepted"]


class RecordRejected(_Answer):
    record: int = Field(description="The record's place in the batch, from 0.")
    status: Literal["rejected"]
    detail: str
    problems: list[FieldProblem]


class BatchAccepted(_Answer):
    """A batch with at least one valid record: an answer per record, in input order.
    Bad records do not hold back the good ones."""

    accepted: int
    rejected: int
    policy_version: str = Field(
        description="The policy bundle's hash: exactly which files decided."
    )
    agreement_version: str = Field(description="The agreement's declared version.")
    results: list[Annotated[RecordAccepted | RecordRejected, Field(discriminator="status")]]


class RecordedDecision(Decision):
    """A decision as the gateway keeps it with the exchange."""

    lawful_basis: str | None = None
    special_category_condition: str | None = None
    consent: str | None = Field(
        default=None, description="`given`, `not given` or `not required`; absent for a denial."
    )
    justification: str | None = None
    conditions: list[str] = Field(default_factory=list)
    obligations: list[str] = Field(default_factory=list)
    policy_version: str | None = Field(default=None, description="The policy bundle's hash.")
    agreement_version: str | None = Field(
        default=None, description="The agreement's declared version."
    )


class Delivery(_Answer):
    """Where a permitted recipient's copy stands, as the audit trail records it."""

    recipient: str
    status: Literal["pending", "sent", "dead-lettered"]
    delivery_id: str | None
    channel: str | None = Field(description="`kafka` or `webhook`, once a copy was sent.")
    at: datetime | None = Field(description="When the audit trail recorded the status.")


class ExchangeStatus(_Answer):
    """An exchange the caller submitted: what was decided, where each copy stands;
    never the record's contents."""

    exchange_id: str
    source_partner: str
    format: str
    category: str
    purpose: str
    urgency: str
    submitted_at: datetime = Field(description="When the gateway received it.")
    policy_version: str
    decisions: list[RecordedDecision]
    deliveries: list[Delivery]
    acknowledgements: list[AcknowledgementStatus] = Field(
        default_factory=list,
        description="Each copy that must be acknowledged: acknowledged (when, by whom), "
        "waiting (until when, at which step), escalated past every step, or stopped "
        "because the record was withdrawn or corrected.",
    )
    corrects: str | None = Field(
        default=None, description="The exchange this one corrects, when it is a correction."
    )
    corrected_by: list[str] = Field(
        default_factory=list, description="The corrections of this exchange, oldest first."
    )
    withdrawn_at: datetime | None = Field(
        default=None,
        description="When the sender withdrew it; every recipient that held a copy was sent "
        "a withdrawal notice.",
    )
    erased_at: datetime | None = Field(
        default=None,
        description="When the record's contents were erased at the end of the agreement's "
        "retention period (its decisions and deliveries stay).",
    )


class AcknowledgementStatus(_Answer):
    recipient: str
    status: Literal["waiting", "acknowledged", "exhausted", "withdrawn", "superseded"]
    step: int = Field(description="The escalation step reached, from 0.")
    desk: str | None = Field(description="Who is to acknowledge now; none when exhausted.")
    deadline: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None = Field(description="The recipient's system or person.")
    history: list[dict[str, Any]] = Field(description="Each step taken, and the acknowledgement.")


class Acknowledged(_Answer):
    """A copy acknowledged: its clock has stopped."""

    exchange_id: str
    recipient: str
    acknowledged_at: datetime
    acknowledged_by: str
    already: bool = Field(description="It had been acknowledged before; nothing changed.")


class TokenRequest(BaseModel):
    """OAuth2 client credentials (RFC 6749 4.4) with a signed assertion (RFC 7523), or
    a client secret where the registration says so (in the form or by HTTP Basic)."""

    grant_type: Literal["client_credentials"]
    client_assertion_type: (
        Literal["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"] | None
    ) = Field(default=None, description="With `client_assertion` (private_key_jwt).")
    client_assertion: str | None = Field(
        default=None,
        description="A JWT the client signs with its registered key: `iss` and `sub` the "
        "client id, `aud` this token URL, a unique `jti`, `exp` within 300 seconds.",
    )
    scope: str | None = Field(
        default=None,
        description="Space-separated scopes; the registration's scopes when absent.",
    )
    client_id: str | None = Field(default=None, description="With `client_secret` only.")
    client_secret: str | None = Field(default=None, description="Where registered so.")


class TokenResponse(_Answer):
    access_token: str = Field(description="A JWT signed with a key published at the JWKS URL.")
    token_type: Literal["Bearer"]
    expires_in: int = Field(description="Seconds the token is valid for.")
    scope: str = Field(description="The scopes granted, space-separated.")


class Jwks(_Answer):
    """The public keys access tokens are signed with (RFC 7517)."""

    keys: list[dict[str, Any]]


class AdapterInfo(_Answer):
    format: str
    media_types: list[str]
    summary: str


class Adapters(_Answer):
    adapters: list[AdapterInfo]
    disabled: dict[str, str] = Field(description="Formats that failed to load, and why.")


class Health(_Answer):
    status: Literal["ok"]


class Ready(_Answer):
    """Ready (the store answers; ``degraded`` while the broker does not, and accepted
    records wait in the outbox); which dependency answered, the outbox's backlog and
    the policy's state, only for loopback callers or where the settings open it."""

    status: Literal["ready", "degraded"]


class Person(_Answer):
    """The person signed in."""

    subject: str
    name: str | None
    roles: list[str]
    expires_at: datetime
    csrf_token: str | None = Field(description="Send it back in X-CSRF-Token on a change.")
