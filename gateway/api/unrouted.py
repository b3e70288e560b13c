"""The unrouted queue: records a flow would route by place, but that give none.

A suspect of no fixed abode, with no probation PDU: the policy refuses every
probation SPOC with the rule ``unrouted`` and the pipeline keeps the exchange
in this queue. The coordinating team (role ``coordinator``) sees the open
items, no record content beyond the category and case reference, and routes
one by supplying the missing place; the gateway decides the stored record
again with that place on its perpetrator, suspect or offender subjects, so the
policy, not the coordinator, decides what crosses. A permitted copy is queued
and audited (``alteration`` and ``disclosure``, naming the person); a refusal
is a 422 with the decision's reason.

    GET  /v1/unrouted                        the open items, oldest first
    POST /v1/unrouted/{exchange_id}/route    {"recipient": ..., "place": {...}}
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts import Exchange
from contracts.ids import is_id_text
from contracts.v1 import Address
from gateway import jsontext
from gateway.api.corrections import body_schema, json_body
from gateway.api.sign_in import require_csrf
from gateway.audit import Action, AuditEntry
from gateway.audit.chain import seal_decisions
from gateway.audit.subjects import payload_sha256, subject_pseudonyms, traced
from gateway.delivery.outbox import outbox_rows
from gateway.errors import NotFound, RecipientNotPermitted
from gateway.identity.caller import Caller
from gateway.identity.people import COORDINATOR, require_role
from gateway.pipeline.minimise import minimise
from gateway.pipeline.route import route
from gateway.policy import decide
from gateway.runtime import Runtime
from gateway.store.audit_log import append
from gateway.store.tables import INSERT_OUTBOX, SerialisedJSON, exchanges, insert_rows, unrouted

#: The subjects a routing place belongs to: the person whose risk is managed.
PLACE_ROLES = frozenset({"perpetrator", "suspect", "offender"})
_TEXT = r"^[^\x00-\x1f\x7f]*$"


class Place(BaseModel):
    """Where the person is managed or lives: one or both."""

    model_config = ConfigDict(extra="forbid")

    probation_pdu: str | None = Field(None, min_length=1, max_length=100, pattern=_TEXT)
    local_authority: str | None = Field(None, min_length=1, max_length=100, pattern=_TEXT)

    @model_validator(mode="after")
    def _some_place(self) -> Place:
        if self.probation_pdu is None and self.local_authority is None:
            raise ValueError("give probation_pdu or local_authority")
        return self


class RouteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipient: str = Field(min_length=1, max_length=64)
    place: Place


def with_place(exchange: Exchange, place: Place) -> Exchange:
    """The record with ``place`` on its perpetrator, suspect and offender subjects."""
    subjects = []
    for subject in exchange.subjects:
        if subject.role in PLACE_ROLES:
            changes: dict[str, Any] = {}
            if place.probation_pdu is not None:
                changes["probation_pdu"] = place.probation_pdu
            if place.local_authority is not None:
                address = subject.address or Address()
                changes["address"] = address.model_copy(
                    update={"local_authority": place.local_authority}
                )
            subject = subject.model_copy(update=changes)
        subjects.append(subject)
    return exchange.model_copy(update={"subjects": subjects})


def open_items(runtime: Runtime) -> list[dict[str, Any]]:
    """The open items with what a coordinator needs to choose, and nothing more."""
    query = (
        sa.select(
            unrouted.c.exchange_id,
            unrouted.c.flow,
            unrouted.c.recipients,
            unrouted.c.created_at,
            exchanges.c.source_partner,
            exchanges.c.category,
            exchanges.c.urgency,
            exchanges.c.case_reference,
        )
        .join(exchanges, exchanges.c.exchange_id == unrouted.c.exchange_id)
        .where(unrouted.c.status == "open")
        .order_by(unrouted.c.created_at, unrouted.c.exchange_id)
    )
    with runtime.store.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [
        {
            "exchange_id": row["exchange_id"],
            "flow": row["flow"],
            "recipients": _json(row["recipients"]),
            "since": _utc(row["created_at"]),
            "source_partner": row["source_partner"],
            "category": row["category"],
            "urgency": row["urgency"],
            "case_reference": row["case_reference"],
        }
        for row in rows
    ]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _utc(moment: datetime) -> str:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def route_by_hand(
    runtime: Runtime, exchange_id: str, request: RouteRequest, caller: Caller
) -> dict[str, Any]:
    """Decide the stored record again with the place added; queue and audit the
    recipient's copy if the policy permits it, and close the item."""
    with runtime.store.engine.connect() as conn:
        item = conn.execute(
            sa.select(unrouted.c.status).where(unrouted.c.exchange_id == exchange_id)
        ).first()
    row = runtime.store.get_exchange(exchange_id)
    if item is None or item.status != "open" or row is None:
        raise NotFound(f"no open unrouted item for exchange {exchange_id}")
    pipeline = runtime.pipeline
    bundle = pipeline.policy()
    exchange = with_place(Exchange.model_validate(row["envelope"]), request.place)
    decision = next((d for d in decide(bundle, exchange) if d.recipient == request.recipient), None)
    if decision is None:
        raise RecipientNotPermitted(f"{request.recipient!r} is not a recipient of this sender")
    if not decision.permitted:
        raise RecipientNotPermitted(
            f"{request.recipient} is not permitted the record with this place: {decision.reason}"
        )
    record = exchange.model_dump(mode="json")
    disclosures = minimise(record, [decision], pipeline.pseudonym_key)
    messages = route(
        exchange, disclosures, pipeline.topic_prefix, pipeline.webhooks, None, pipeline.renderers
    )
    actor, now = caller.actor, datetime.now(UTC)
    place = request.place.model_dump(exclude_none=True)
    details = decision.as_record()
    details.update(disclosures[0].minimised.as_audit())
    # Whom the record is about, which bytes crossed, and the trace (s62).
    about = traced(
        {"subject_pseudonyms": subject_pseudonyms(pipeline.pseudonym_key, exchange.subjects)}
    )
    details["payload_sha256"] = payload_sha256(jsontext.dumps(disclosures[0].minimised.record))
    entries = [
        AuditEntry(
            action=Action.ALTERATION,
            actor=actor,
            recipient=request.recipient,
            exchange_id=exchange_id,
            details={
                "routed_by_hand": True,
                "place": place,
                "flow": decision.rules[0],
                "justification": "the coordinating team supplied the place the flow routes by",
                **about,
            },
        ),
        AuditEntry(
            action=Action.DISCLOSURE,
            actor=actor,
            recipient=request.recipient,
            exchange_id=exchange_id,
            details={**details, "routed_by": actor, "place": place, **about},
        ),
    ]
    recorded = {
        **decision.as_record(),
        "disclosed": list(disclosures[0].minimised.disclosed),
        "routed_by": actor,
        "place": place,
    }
    decisions = [recorded if d["recipient"] == request.recipient else d for d in row["decisions"]]
    if all(d["recipient"] != request.recipient for d in row["decisions"]):
        decisions.append(recorded)
    # Written as this text, whose hash the disclosure entry states (docs/audit.md).
    decisions_text = jsontext.dumps(decisions)
    entries = seal_decisions(entries, decisions_text)
    with runtime.store.transaction() as conn:
        # The exchange's row first, as a correction or withdrawal takes it (no deadlock).
        conn.execute(
            sa.select(exchanges.c.exchange_id)
            .where(exchanges.c.exchange_id == exchange_id)
            .with_for_update()
        )
        taken = conn.execute(
            unrouted.update()
            .where(unrouted.c.exchange_id == exchange_id, unrouted.c.status == "open")
            .values(status="routed", routed_by=actor, routed_to=request.recipient, routed_at=now)
        ).rowcount
        if taken != 1:  # another coordinator routed it, or the sender withdrew it, first
            raise NotFound(f"no open unrouted item for exchange {exchange_id}")
        conn.execute(
            exchanges.update()
            .where(exchanges.c.exchange_id == exchange_id)
            .values(decisions=sa.bindparam("decisions_text", type_=SerialisedJSON)),
            {"decisions_text": decisions_text},
        )
        insert_rows(conn, INSERT_OUTBOX, outbox_rows(messages))
        append(conn, entries)
    pipeline.on_commit()
    return {
        "exchange_id": exchange_id,
        "recipient": request.recipient,
        "routed_by": actor,
        "place": place,
        "decision": {k: recorded[k] for k in ("effect", "rules", "reason", "purpose")},
        "delivery_ids": [m.delivery_id for m in messages],
    }


def install_unrouted(app: FastAPI, runtime: Runtime) -> None:
    """The coordinating team's queue (people signed in with the coordinator role)."""
    coordinator = Depends(require_role(COORDINATOR))

    @app.get("/v1/unrouted", tags=["people"])
    def list_unrouted(caller: Caller = coordinator) -> dict[str, Any]:
        """The records waiting to be routed by hand, oldest first: the exchange, the
        flow, the candidate recipients, since when; no record content."""
        return {"items": open_items(runtime)}

    @app.post(
        "/v1/unrouted/{exchange_id}/route",
        tags=["people"],
        dependencies=[Depends(require_csrf)],
        openapi_extra=body_schema(RouteRequest),
    )
    async def route_unrouted(
        exchange_id: str, request: Request, caller: Caller = coordinator
    ) -> dict[str, Any]:
        """Route a record by hand: the place you supply is added to the record, the
        policy decides again, and a permitted recipient's copy is queued."""
        chosen = await json_body(request, RouteRequest)
        if not is_id_text(exchange_id):
            raise NotFound(f"no open unrouted item for exchange {exchange_id}")
        return await run_in_threadpool(route_by_hand, runtime, exchange_id, chosen, caller)
