"""Corrections and withdrawals: a sender puts right, or takes back, a record it sent.

UK GDPR Art 19 and DPA 2018 s46: a rectification reaches every recipient the
record was disclosed to. So a correction goes to the recipients that received
the exchange it corrects, each copy decided and minimised by the policy in
force now; a recipient the policy no longer permits is sent a withdrawal
notice instead (ids and a reason category, no record content). A recipient
that never had the record does not get the correction: it never held the
wrong version, and a correction is not a way to widen a disclosure (the
answer lists such recipients as ``also_permitted``; the sender submits the
record anew if they must know).

    POST /v1/exchanges/{id}/correction   a native record in the original's format
    POST /v1/exchanges/{id}/withdrawal   {"reason": "...", "category": "..."}

Only the latest version of a record is corrected or withdrawn, only by its
sender (anyone else: 404, so an exchange's existence does not leak), and a
withdrawn exchange is never corrected (409). Every step is audited:
``alteration`` for a correction, ``withdrawal`` per recipient told.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.engine import Connection

from adapters import IngestContext
from contracts import Exchange
from contracts.ids import is_id_text, new_id_text
from gateway import jsontext
from gateway.alerts import clock_rows
from gateway.alerts.clock import SUPERSEDED, WITHDRAWN, stop_clocks
from gateway.api import limits
from gateway.api.auth import partner, refuse_format
from gateway.api.rate_limits import RateLimits
from gateway.audit import Action, AuditEntry
from gateway.audit.chain import now_text
from gateway.audit.subjects import subject_pseudonyms, traced
from gateway.delivery.outbox import OutboxMessage, outbox_rows
from gateway.delivery.topics import recipient_topic, urgent_topic
from gateway.errors import (
    ExchangeErased,
    ExchangeSuperseded,
    ExchangeWithdrawn,
    InvalidRecord,
    MalformedBody,
    NotFound,
    PayloadTooLarge,
)
from gateway.identity.caller import SUBMIT, Caller
from gateway.pipeline.audit import audit_entries
from gateway.pipeline.decide import decide
from gateway.pipeline.deliver import pending_commit
from gateway.pipeline.flow import Accepted, trace_context, tracer
from gateway.pipeline.ingest import ingest
from gateway.pipeline.minimise import minimise
from gateway.pipeline.route import PRIORITY, route, subject_key
from gateway.pipeline.validate import validate
from gateway.policy import Decision, PolicyBundle
from gateway.runtime import Runtime
from gateway.store.audit_log import append
from gateway.store.commit import write_group
from gateway.store.tables import INSERT_OUTBOX, exchanges, insert_rows, outbox, unrouted
from gateway.telemetry import metrics

#: The rule of a refusal only because a correction goes to earlier recipients only.
EARLIER_RECIPIENTS_ONLY = "correction:earlier-recipients-only"
#: A withdrawal's reason, as its message names it (free text stays in the audit trail).
CATEGORIES = (
    "inaccurate",
    "sent-in-error",
    "wrong-person",
    "no-longer-lawful",
    "no-longer-permitted",  # the gateway's own: a correction the policy refuses now
    "other",
)
Category = Literal["inaccurate", "sent-in-error", "wrong-person", "no-longer-lawful", "other"]


class WithdrawalRequest(BaseModel):
    """Why the sender withdraws: ``category`` goes to the recipients, ``reason`` only
    to the audit trail (free text may name people)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000, pattern=r"^[^\x00-\x08\x0b-\x1f\x7f]*$")
    category: Category | None = None

    def chosen_category(self) -> str:
        """The category given, else the reason itself when it is one, else ``other``."""
        if self.category is not None:
            return self.category
        return self.reason if self.reason in CATEGORIES else "other"


M = TypeVar("M", bound=BaseModel)
#: A JSON request body of these endpoints is a few lines; far less than a record.
MAX_JSON_BODY = 16 * 1024


async def json_body(request: Request, model: type[M]) -> M:
    """The request's JSON body as ``model``: 400 malformed-body when it is not JSON,
    422 invalid-request (as FastAPI's own validation) when it does not fit."""
    raw = await limits.read_body(request.stream(), "application/json", MAX_JSON_BODY)
    try:
        data = json.loads(raw)
    except ValueError:  # not UTF-8 or not JSON
        raise MalformedBody("the body is not JSON") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_context=False)]
        raise RequestValidationError(errors) from None


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting ``model`` as the JSON request body, its nested
    models inlined (the document's components are the answers' only)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})
    for prop in schema.get("properties", {}).values():
        ref = prop.pop("$ref", None)
        if ref is not None:
            prop.update(defs[ref.rsplit("/", 1)[-1]])
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    }


def sender_exchange(runtime: Runtime, exchange_id: str, caller: Caller) -> dict[str, Any]:
    """The caller's own exchange, or 404 (another partner's is as good as none)."""
    row = runtime.store.get_exchange(exchange_id) if is_id_text(exchange_id) else None
    if row is None or row["source_partner"] != caller.partner:
        raise NotFound(f"no exchange {exchange_id}")
    if row.get("erased_at") is not None:
        raise ExchangeErased(
            f"exchange {exchange_id}'s contents were erased at the end of the agreement's "
            "retention period"
        )
    return row


def corrected_by(conn: Connection, exchange_id: str) -> list[str]:
    """The corrections of an exchange, oldest first."""
    query = (
        sa.select(exchanges.c.exchange_id)
        .where(exchanges.c.corrects == exchange_id)
        .order_by(exchanges.c.submitted_at, exchanges.c.exchange_id)
    )
    return list(conn.execute(query).scalars())


def check_latest(conn: Connection, exchange_id: str) -> None:
    """Refuse a withdrawn exchange or a superseded version, holding the exchange's row
    (on PostgreSQL) so two corrections of one version cannot both pass."""
    query = (
        sa.select(exchanges.c.withdrawn_at)
        .where(exchanges.c.exchange_id == exchange_id)
        .with_for_update()
    )
    withdrawn_at = conn.execute(query).scalar_one()
    if withdrawn_at is not None:
        raise ExchangeWithdrawn(f"exchange {exchange_id} was withdrawn")
    later = corrected_by(conn, exchange_id)
    if later:
        raise ExchangeSuperseded(
            f"exchange {exchange_id} was corrected by {later[-1]}: correct or withdraw that"
        )


def earlier_recipients(decisions: list[dict[str, Any]]) -> list[str]:
    """Who holds a copy of an exchange: its permitted recipients (a coordinator's
    routing by hand records its permit there too), in decision order."""
    return [d["recipient"] for d in decisions if d.get("effect") == "permit"]


def delivery_ids(conn: Connection, exchange_id: str, recipient: str) -> list[str]:
    """The delivery ids of the copies an exchange queued for a recipient."""
    query = (
        sa.select(outbox.c.delivery_id)
        .where(outbox.c.exchange_id == exchange_id, outbox.c.recipient == recipient)
        .order_by(outbox.c.id)
    )
    return list(conn.execute(query).scalars())


def withdrawal_messages(
    runtime: Runtime,
    exchange: Exchange,
    message_exchange_id: str,
    recipient: str,
    withdrawn: list[str],
    category: str,
    at: str,
) -> list[OutboxMessage]:
    """A withdrawal notice for ``recipient`` on each channel its copies went by, in
    its copies' queue (same topic and key), so it arrives after them. No record
    content: the ids, the reason's category and when."""
    pipeline = runtime.pipeline
    priority = PRIORITY[exchange.urgency]
    topic = (urgent_topic if priority else recipient_topic)(pipeline.topic_prefix, recipient)
    channels = [("kafka", topic)]
    if recipient in pipeline.webhooks:
        channels.append(("webhook", recipient))
    original = str(exchange.exchange_id)
    messages = []
    for channel, destination in channels:
        delivery_id = new_id_text()
        body = {
            "kind": "withdrawal",
            "delivery_id": delivery_id,
            "recipient": recipient,
            "withdraws": original,
            "delivery_ids": withdrawn,
            "reason": category,
            "withdrawn_at": at,
        }
        messages.append(
            OutboxMessage(
                delivery_id=delivery_id,
                exchange_id=message_exchange_id,
                recipient=recipient,
                channel=channel,
                destination=destination,
                message_key=subject_key(exchange, recipient),
                payload=jsontext.dumps(body, sort_keys=True),
                headers={
                    "exchange-id": message_exchange_id,
                    "delivery-id": delivery_id,
                    "recipient": recipient,
                    "kind": "withdrawal",
                    "withdraws": original,
                    "content-type": "application/json",
                    "isg-format": "withdrawal",
                },
                priority=priority,
            )
        )
    return messages


def as_correction(message: OutboxMessage, original_id: str) -> OutboxMessage:
    """A copy marked as a correction: in its headers and, for the canonical envelope,
    in its body too (a webhook carries the body, not every header)."""
    payload = message.payload
    if message.headers.get("isg-format") == "canonical":
        envelope = json.loads(payload)
        envelope.update(kind="correction", corrects=original_id)
        payload = jsontext.dumps(envelope, sort_keys=True)
    headers = {**message.headers, "kind": "correction", "corrects": original_id}
    return dataclasses.replace(message, payload=payload, headers=headers)


def _earlier_only(decisions: list[Decision], earlier: set[str]) -> list[Decision]:
    """The policy's decisions, a permit for a recipient that never had the record
    turned into a refusal: a correction does not widen a disclosure."""
    out = []
    for d in decisions:
        if d.permitted and d.recipient not in earlier:
            d = Decision(
                recipient=d.recipient,
                effect="deny",
                rules=(EARLIER_RECIPIENTS_ONLY, *d.rules),
                reason="a correction goes only to the recipients of the exchange it "
                "corrects; the policy would permit this recipient now: submit the "
                "record as a new exchange if they must know",
                purpose=d.purpose,
                policy_version=d.policy_version,
                agreement_version=d.agreement_version,
            )
        out.append(d)
    return out


def _as_routed_by_hand(
    exchange: Exchange,
    bundle: PolicyBundle,
    decisions: list[Decision],
    original: dict[str, Any],
) -> tuple[list[Decision], dict[str, dict[str, Any]]]:
    """A recipient a coordinator routed the original to by hand, unrouted again by the
    correction (which gives no place either), is decided with the coordinator's
    place, as the original was; the records so placed, by recipient."""
    from gateway.api.unrouted import Place, with_place  # it imports this module

    places = {
        d["recipient"]: d["place"]
        for d in original["decisions"]
        if d.get("effect") == "permit" and isinstance(d.get("place"), dict)
    }
    out, placed = [], {}
    for d in decisions:
        if d.unrouted and d.recipient in places:
            with_it = with_place(exchange, Place.model_validate(places[d.recipient]))
            again = next(x for x in decide(with_it, bundle) if x.recipient == d.recipient)
            if again.permitted:
                d = again
                placed[d.recipient] = with_it.model_dump(mode="json")
        out.append(d)
    return out, placed


def _correct(
    runtime: Runtime,
    original: dict[str, Any],
    body: bytes,
    media_type: str | None,
    caller: Caller,
) -> dict[str, Any]:
    """Run the corrected record through the stages, sent only to earlier recipients,
    with a withdrawal for each the policy no longer permits; all kept in one
    transaction with the link to the exchange it corrects."""
    pipeline = runtime.pipeline
    bundle = pipeline.policy()
    fmt, partner_id = original["format"], str(caller.partner)
    original_id = original["exchange_id"]
    context = IngestContext(source_partner=partner_id, received_at=datetime.now(UTC))
    parsed = ingest(pipeline.registry, fmt, body, media_type, context)
    if parsed.batch or len(parsed.items) != 1:
        raise InvalidRecord("a correction is one record, not a batch")
    (item,) = parsed.items
    if isinstance(item, InvalidRecord):
        raise item
    exchange = item
    validate(exchange, bundle)
    earlier = earlier_recipients(original["decisions"])
    with tracer.start_as_current_span("correction", attributes={"isg.format": fmt}) as span:
        record = exchange.model_dump(mode="json")
        policy_decisions = decide(exchange, bundle)
        decisions = _earlier_only(policy_decisions, set(earlier))
        decisions, placed = _as_routed_by_hand(exchange, bundle, decisions, original)
        disclosures = [
            d
            for decision in decisions
            for d in minimise(
                placed.get(decision.recipient, record), [decision], pipeline.pseudonym_key
            )
        ]
        entries = audit_entries(
            exchange, fmt, decisions, disclosures, caller.client_id, record, pipeline.pseudonym_key
        )
        messages = route(
            exchange,
            disclosures,
            pipeline.topic_prefix,
            pipeline.webhooks,
            trace_context(span),
            pipeline.renderers,
        )
    exchange_id = str(exchange.exchange_id)
    messages = [as_correction(m, original_id) for m in messages]
    sent = [d.recipient for d in decisions if d.permitted]
    no_longer = [r for r in earlier if r not in sent]
    also = [d.recipient for d in policy_decisions if d.permitted and d.recipient not in earlier]
    at = now_text()
    old = Exchange.model_validate(original["envelope"])
    # Whom the earlier version was about, and the trace: on its withdrawal and alteration.
    about = traced({"subject_pseudonyms": subject_pseudonyms(pipeline.pseudonym_key, old.subjects)})
    clocks = clock_rows(exchange, decisions, datetime.now(UTC), pipeline.steps_for)
    pending = pending_commit(
        exchange, record, fmt, bundle.version, decisions, disclosures, entries, messages, clocks
    )
    pending.exchange["corrects"] = original_id

    def link(conn: Connection) -> None:
        check_latest(conn, original_id)
        decided = sa.select(exchanges.c.decisions).where(exchanges.c.exchange_id == original_id)
        now_held = conn.execute(decided).scalar_one()
        now_held = json.loads(now_held) if isinstance(now_held, str) else now_held
        if earlier_recipients(now_held) != earlier:  # routed by hand meanwhile
            raise ExchangeSuperseded(
                f"exchange {original_id} reached another recipient while it was being "
                "corrected: send the correction again"
            )
        # The old version's clocks stop: the correction's copies carry their own.
        stop_clocks(conn, original_id, SUPERSEDED, exchange_id, datetime.now(UTC))
        conn.execute(  # the old version is no longer to be routed by hand
            unrouted.update()
            .where(unrouted.c.exchange_id == original_id, unrouted.c.status == "open")
            .values(status="corrected")
        )
        withdrawals: list[OutboxMessage] = []
        for recipient in no_longer:
            ids = delivery_ids(conn, original_id, recipient)
            notices = withdrawal_messages(
                runtime, old, exchange_id, recipient, ids, "no-longer-permitted", at
            )
            withdrawals += notices
            pending.entries.append(
                AuditEntry(
                    action=Action.WITHDRAWAL,
                    actor=partner_id,
                    recipient=recipient,
                    exchange_id=original_id,
                    details={
                        "category": "no-longer-permitted",
                        "corrected_by": exchange_id,
                        "delivery_ids": ids,
                        "notices": [n.delivery_id for n in notices],
                        "reason": "the policy in force does not permit this recipient "
                        "the correction",
                        **({"client": caller.client_id} if caller.client_id else {}),
                        **about,
                    },
                )
            )
        pending.outbox.extend(outbox_rows(withdrawals))
        pending.entries.append(
            AuditEntry(
                action=Action.ALTERATION,
                actor=partner_id,
                exchange_id=original_id,
                details={
                    "corrected_by": exchange_id,
                    "sent_to": sent,
                    "withdrawn_from": no_longer,
                    "not_sent_to_new_recipients": also,
                    "placed_as_routed_by_hand": sorted(placed),
                    "policy_version": bundle.version,
                    "justification": "the sender corrected the record it shared",
                    **({"client": caller.client_id} if caller.client_id else {}),
                    **about,
                },
            )
        )

    write_group(runtime.store, [pending], also=link)
    metrics.exchange_kept(fmt, decisions)  # a correction is an exchange too
    pipeline.on_commit()
    answer = Accepted(exchange_id, decisions).as_dict()
    answer.update(
        corrects=original_id,
        withdrawn_from=no_longer,
        also_permitted=also,
        policy_version=bundle.version,
        agreement_version=bundle.agreement_version,
    )
    return answer


def _withdraw(
    runtime: Runtime, original: dict[str, Any], request: WithdrawalRequest, caller: Caller
) -> dict[str, Any]:
    """Mark the exchange withdrawn and tell every recipient that holds a copy, in one
    transaction; an open unrouted item for it is closed."""
    exchange_id = original["exchange_id"]
    exchange = Exchange.model_validate(original["envelope"])
    category = request.chosen_category()
    now = datetime.now(UTC)
    at = now.isoformat(timespec="microseconds")
    told: list[dict[str, Any]] = []
    with runtime.store.transaction() as conn:
        check_latest(conn, exchange_id)
        # Read under the row's lock: a coordinator may have routed it a copy meanwhile.
        decided = sa.select(exchanges.c.decisions).where(exchanges.c.exchange_id == exchange_id)
        decisions = conn.execute(decided).scalar_one()
        recipients = earlier_recipients(
            json.loads(decisions) if isinstance(decisions, str) else decisions
        )
        conn.execute(
            exchanges.update()
            .where(exchanges.c.exchange_id == exchange_id)
            .values(withdrawn_at=now)
        )
        stop_clocks(conn, exchange_id, WITHDRAWN, str(caller.partner), now)
        conn.execute(
            unrouted.update()
            .where(unrouted.c.exchange_id == exchange_id, unrouted.c.status == "open")
            .values(status="withdrawn")
        )
        messages: list[OutboxMessage] = []
        entries: list[AuditEntry] = []
        client = {"client": caller.client_id} if caller.client_id else {}
        # Whom the record was about, and the trace: on every withdrawal entry.
        client = traced(
            {
                **client,
                "subject_pseudonyms": subject_pseudonyms(
                    runtime.pipeline.pseudonym_key, exchange.subjects
                ),
            }
        )
        for recipient in recipients:
            ids = delivery_ids(conn, exchange_id, recipient)
            notices = withdrawal_messages(
                runtime, exchange, exchange_id, recipient, ids, category, at
            )
            messages += notices
            told.append({"recipient": recipient, "delivery_ids": ids})
            entries.append(
                AuditEntry(
                    action=Action.WITHDRAWAL,
                    actor=str(caller.partner),
                    recipient=recipient,
                    exchange_id=exchange_id,
                    details={
                        "category": category,
                        "reason": request.reason,
                        "delivery_ids": ids,
                        "notices": [n.delivery_id for n in notices],
                        **client,
                    },
                )
            )
        if not recipients:  # nobody to tell: the withdrawal is still on the record
            entries.append(
                AuditEntry(
                    action=Action.WITHDRAWAL,
                    actor=str(caller.partner),
                    exchange_id=exchange_id,
                    details={"category": category, "reason": request.reason, **client},
                )
            )
        insert_rows(conn, INSERT_OUTBOX, outbox_rows(messages))
        append(conn, entries)
    runtime.pipeline.on_commit()
    return {
        "exchange_id": exchange_id,
        "withdrawn_at": at,
        "category": category,
        "recipients": told,
    }


def install_corrections(app: FastAPI, runtime: Runtime, rate_limits: RateLimits) -> None:
    """The sender's correction and withdrawal endpoints (scope ``submit``)."""
    submitter = Depends(partner(runtime, SUBMIT, rate_limits))
    max_body = runtime.settings.max_body_bytes

    @app.post("/v1/exchanges/{exchange_id}/correction", status_code=202, tags=["exchange"])
    async def correct_exchange(
        exchange_id: str, request: Request, caller: Caller = submitter
    ) -> dict[str, Any]:
        """Correct an exchange you sent: the corrected record, in the original's format,
        goes to the recipients that received the original and are permitted it now;
        one no longer permitted gets a withdrawal notice instead."""
        original = await run_in_threadpool(sender_exchange, runtime, exchange_id, caller)
        await refuse_format(runtime, request, caller, original["format"])
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_body:
            raise PayloadTooLarge(f"the body is over {max_body} bytes")
        media_type = request.headers.get("content-type")
        body = await limits.read_body(request.stream(), media_type, max_body)
        return await run_in_threadpool(_correct, runtime, original, body, media_type, caller)

    @app.post(
        "/v1/exchanges/{exchange_id}/withdrawal",
        tags=["exchange"],
        openapi_extra=body_schema(WithdrawalRequest),
    )
    async def withdraw_exchange(
        exchange_id: str, request: Request, caller: Caller = submitter
    ) -> dict[str, Any]:
        """Withdraw an exchange you sent: every recipient that received a copy is told
        to disregard it (the ids and the reason's category, never the free text)."""
        withdrawal = await json_body(request, WithdrawalRequest)
        original = await run_in_threadpool(sender_exchange, runtime, exchange_id, caller)
        return await run_in_threadpool(_withdraw, runtime, original, withdrawal, caller)
