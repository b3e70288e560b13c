"""Routing: topics by urgency, webhooks as extra deliveries, native formats with a fallback."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from adapters import Adapter, Parsed, Rendered
from contracts import Exchange
from gateway.pipeline.minimise import Disclosure
from gateway.pipeline.route import route, subject_key
from gateway.policy import Decision
from gateway.policy.minimise import Minimised


def _exchange(urgency: str = "routine") -> Exchange:
    return Exchange.model_validate(
        {
            "exchange_id": str(uuid.uuid4()),
            "source_partner": "cheshire-police",
            "submitted_at": datetime.now(UTC).isoformat(),
            "category": "crime_record",
            "purpose": "stalking-risk-management",
            "urgency": urgency,
            "subjects": [
                {
                    "ref": "P1",
                    "role": "suspect",
                    "identifiers": [{"system": "pnc_id", "value": "12/345678A"}],
                }
            ],
            "payload": {"crime": {"occurrence_number": "CC-1", "offence": {"code": "8Q"}}},
        }
    )


def _disclosure(recipient: str, exchange: Exchange) -> Disclosure:
    decision = Decision(
        recipient=recipient,
        effect="permit",
        rules=("r1",),
        reason="",
        purpose="stalking-risk-management",
        policy_version="sha256:x",
        lawful_basis="dpa-part3-law-enforcement",
    )
    record = {"exchange_id": str(exchange.exchange_id), "category": "crime_record"}
    return Disclosure(decision, Minimised(record=record, disclosed=("exchange_id",), removed=()))


class ExplodingAdapter(Adapter):
    name = "exploding"

    def parse(self, body: bytes, media_type: str, context: Any) -> Parsed:
        raise NotImplementedError

    def render(self, record: dict[str, Any]) -> Rendered:
        raise ValueError("cannot hold this record")


class UpperAdapter(Adapter):
    name = "upper"
    media_types = ("text/plain",)

    def parse(self, body: bytes, media_type: str, context: Any) -> Parsed:
        raise NotImplementedError

    def render(self, record: dict[str, Any]) -> Rendered:
        return Rendered(record["exchange_id"].upper().encode(), "text/plain")


def test_routine_goes_to_the_recipient_topic_urgent_to_the_priority_topic():
    routine = _exchange()
    (message,) = route(routine, [_disclosure("probation-spoc-north", routine)], "isg")
    assert message.destination == "isg.v1.deliveries.probation-spoc-north"
    assert message.priority == 0
    urgent = _exchange("immediate")
    (message,) = route(urgent, [_disclosure("probation-spoc-north", urgent)], "isg")
    assert message.destination == "isg.v1.urgent.probation-spoc-north"
    assert message.priority > 0


def test_each_recipient_has_its_own_urgent_topic():
    urgent = _exchange("immediate")
    north, east = route(
        urgent,
        [_disclosure("probation-spoc-north", urgent), _disclosure("probation-spoc-east", urgent)],
        "isg",
    )
    assert north.destination == "isg.v1.urgent.probation-spoc-north"
    assert east.destination == "isg.v1.urgent.probation-spoc-east"


def test_webhook_recipients_get_a_second_delivery_with_its_own_id():
    exchange = _exchange()
    kafka, webhook = route(
        exchange, [_disclosure("victim-advocates", exchange)], "isg", webhooks={"victim-advocates"}
    )
    assert (kafka.channel, webhook.channel) == ("kafka", "webhook")
    assert kafka.delivery_id != webhook.delivery_id
    assert kafka.message_key == webhook.message_key


def test_native_format_when_it_renders_canonical_when_it_fails():
    exchange = _exchange()
    (native,) = route(
        exchange, [_disclosure("a", exchange)], "isg", renderers={"a": UpperAdapter()}
    )
    assert native.payload == str(exchange.exchange_id).upper()
    assert native.headers["isg-format"] == "upper"
    assert native.headers["content-type"] == "text/plain"

    (fallback,) = route(
        exchange, [_disclosure("a", exchange)], "isg", renderers={"a": ExplodingAdapter()}
    )
    assert fallback.headers["isg-format"] == "canonical"
    assert json.loads(fallback.payload)["record"]["exchange_id"] == str(exchange.exchange_id)


def test_subject_key_is_stable_per_recipient_and_names_nobody():
    exchange = _exchange()
    key = subject_key(exchange, "a")
    assert key == subject_key(_exchange(), "a")  # same person, same key
    assert key != subject_key(exchange, "b")  # not joinable across recipients
    assert "345678" not in key
