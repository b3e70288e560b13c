"""Stage 6, route: where each permitted recipient's copy goes.

Every permitted recipient gets its copy on its own topic; urgent and
immediate exchanges go to the priority topic instead, ahead of bulk traffic.
A recipient with a webhook also gets the copy pushed to it, as a separate
delivery with its own id. Routing rules as data (on-duty recipient, working
hours, fallbacks) grow here.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Collection

from contracts import Exchange, Urgency
from gateway.delivery.outbox import OutboxMessage
from gateway.delivery.topics import recipient_topic, urgent_topic
from gateway.pipeline.minimise import Disclosure

PRIORITY = {Urgency.ROUTINE: 0, Urgency.URGENT: 5, Urgency.IMMEDIATE: 9}


def subject_key(exchange: Exchange, recipient: str) -> str:
    """A key that keeps one person's records in order without naming them.

    Derived from the first subject's first identifier (or the case reference),
    hashed with the recipient so keys cannot be joined across recipients.
    """
    first = exchange.subjects[0]
    basis = (
        f"{first.identifiers[0].system}:{first.identifiers[0].value}"
        if first.identifiers
        else f"case:{exchange.case_reference or exchange.exchange_id}"
    )
    return hashlib.sha256(f"{recipient}|{basis}".encode()).hexdigest()[:32]


def route(
    exchange: Exchange,
    disclosures: list[Disclosure],
    topic_prefix: str,
    webhooks: Collection[str] = (),
    trace_headers: dict[str, str] | None = None,
) -> list[OutboxMessage]:
    messages = []
    priority = PRIORITY[exchange.urgency]
    for disclosure in disclosures:
        recipient = disclosure.decision.recipient
        topic = urgent_topic(topic_prefix) if priority else recipient_topic(topic_prefix, recipient)
        messages.append(_message(exchange, disclosure, "kafka", topic, priority, trace_headers))
        if recipient in webhooks:
            messages.append(
                _message(exchange, disclosure, "webhook", recipient, priority, trace_headers)
            )
    return messages


def _message(
    exchange: Exchange,
    disclosure: Disclosure,
    channel: str,
    destination: str,
    priority: int,
    trace_headers: dict[str, str] | None,
) -> OutboxMessage:
    decision = disclosure.decision
    delivery_id = str(uuid.uuid4())
    body = {
        "delivery_id": delivery_id,
        "recipient": decision.recipient,
        "decision": {
            **decision.as_record(),
            "disclosed_fields": list(disclosure.minimised.disclosed),
        },
        "record": disclosure.minimised.record,
    }
    return OutboxMessage(
        delivery_id=delivery_id,
        exchange_id=str(exchange.exchange_id),
        recipient=decision.recipient,
        channel=channel,
        destination=destination,
        message_key=subject_key(exchange, decision.recipient),
        payload=json.dumps(body, sort_keys=True, separators=(",", ":")),
        headers={
            "exchange-id": str(exchange.exchange_id),
            "delivery-id": delivery_id,
            "recipient": decision.recipient,
            "policy-version": decision.policy_version,
            "content-type": "application/json",
            "contract-version": exchange.contract_version,
            **(trace_headers or {}),
        },
        priority=priority,
    )
