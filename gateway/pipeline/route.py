"""Stage 6, route: where each permitted recipient's copy goes.

Every permitted recipient gets its copy on its own topic; urgent and
immediate exchanges go to the recipient's own priority topic instead, ahead of
bulk traffic (no recipient's alerts share a topic with another's).
A recipient with a webhook also gets the copy pushed to it, as a separate
delivery with its own id. A recipient that asked for its own format (an NHS
trust wanting FHIR) gets the copy rendered by that format's adapter when the
adapter can carry the record, otherwise the canonical JSON envelope; the
``content-type`` and ``isg-format`` headers say which. Routing rules as data
(on-duty recipient, working hours, fallbacks) grow here.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection, Mapping
from typing import Any

from adapters import Adapter, Rendered
from contracts import Exchange, Urgency
from contracts.ids import new_id_text
from gateway import jsontext
from gateway.delivery.outbox import OutboxMessage
from gateway.delivery.topics import recipient_topic, urgent_topic
from gateway.pipeline.minimise import Disclosure

log = logging.getLogger(__name__)
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
    renderers: Mapping[str, Adapter] | None = None,
) -> list[OutboxMessage]:
    messages = []
    priority = PRIORITY[exchange.urgency]
    for disclosure in disclosures:
        recipient = disclosure.decision.recipient
        renderer = (renderers or {}).get(recipient)
        topic = (
            urgent_topic(topic_prefix, recipient)
            if priority
            else recipient_topic(topic_prefix, recipient)
        )
        channels = [("kafka", topic)] + ([("webhook", recipient)] if recipient in webhooks else [])
        for channel, destination in channels:
            messages.append(
                _message(
                    exchange, disclosure, channel, destination, priority, trace_headers, renderer
                )
            )
    return messages


def _render(renderer: Adapter | None, record: dict[str, Any], recipient: str) -> Rendered | None:
    """The native rendering, or None to fall back to the canonical envelope.

    A rendering that fails (a minimised record the native format cannot hold)
    must not cost the submitter its exchange: the recipient gets the canonical
    envelope instead, and the failure is logged without any record content.
    """
    if renderer is None or not renderer.can_render(record):
        return None
    try:
        return renderer.render(record)
    except Exception as exc:  # an adapter's bug must not lose the exchange
        log.warning(
            "rendering for %s as %s failed (%s); sending the canonical envelope",
            recipient,
            renderer.name,
            type(exc).__name__,
        )
        return None


def _body(
    disclosure: Disclosure, delivery_id: str, renderer: Adapter | None
) -> tuple[str, dict[str, str]]:
    """The message body and the headers that say what it is."""
    decision = disclosure.decision
    record = disclosure.minimised.record
    rendered = _render(renderer, record, decision.recipient)
    if renderer is not None and rendered is not None:
        return rendered.body.decode("utf-8"), {
            "content-type": rendered.media_type,
            "isg-format": renderer.name,
            "purpose": decision.purpose,
            "lawful-basis": decision.lawful_basis or "",
            "rules": ",".join(decision.rules),
        }
    envelope = {
        "delivery_id": delivery_id,
        "recipient": decision.recipient,
        "decision": {
            **decision.as_record(),
            "disclosed_fields": list(disclosure.minimised.disclosed),
        },
        "record": record,
    }
    body = jsontext.dumps(envelope, sort_keys=True)
    return body, {"content-type": "application/json", "isg-format": "canonical"}


def _message(
    exchange: Exchange,
    disclosure: Disclosure,
    channel: str,
    destination: str,
    priority: int,
    trace_headers: dict[str, str] | None,
    renderer: Adapter | None,
) -> OutboxMessage:
    decision = disclosure.decision
    delivery_id = new_id_text()
    body, body_headers = _body(disclosure, delivery_id, renderer)
    return OutboxMessage(
        delivery_id=delivery_id,
        exchange_id=str(exchange.exchange_id),
        recipient=decision.recipient,
        channel=channel,
        destination=destination,
        message_key=subject_key(exchange, decision.recipient),
        payload=body,
        headers={
            "exchange-id": str(exchange.exchange_id),
            "delivery-id": delivery_id,
            "recipient": decision.recipient,
            "policy-version": decision.policy_version,
            "contract-version": exchange.contract_version,
            **body_headers,
            **(trace_headers or {}),
        },
        priority=priority,
    )
