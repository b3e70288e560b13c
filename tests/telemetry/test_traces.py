"""One trace per exchange: a partner's request through the API, the stages, the commit,
and the relay's publish to Kafka and delivery by webhook, every span in the partner's
trace with the right parent, read back with the SDK's in-memory exporter. No span
carries a value of the record."""

from __future__ import annotations

import time

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from gateway.delivery.reader import read_topic
from tests.telemetry.conftest import (
    ANSWERING,
    FAILING,
    PARTNER,
    POLICE_SAMPLE,
    sample_values,
    spans_of,
    traceparent,
)

STAGES = ("validate", "decide", "minimise", "audit", "route", "commit")


def _span_id(span: ReadableSpan) -> str:
    return f"{span.context.span_id:016x}"


def _parent_id(span: ReadableSpan) -> str | None:
    return f"{span.parent.span_id:016x}" if span.parent else None


def _wait_for_spans(exporter, trace_id: str, names: set[str], timeout: float = 15.0):
    """The trace's spans once every name in ``names`` has ended (the relay's end after
    the broker or the peer answered, a moment after the message can be read)."""
    deadline = time.monotonic() + timeout
    while True:
        found = spans_of(exporter, trace_id)
        if names <= {s.name for s in found} or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_one_trace_with_a_span_per_stage_to_the_broker_and_the_peers(pushing_gateway, spans):
    gateway, answering, _failing = pushing_gateway
    header, trace_id, partner_span = traceparent()
    with gateway.client("cheshire-police") as client:
        answer = client.post(
            "/v1/inbound/police",
            content=POLICE_SAMPLE.read_bytes(),
            headers={**PARTNER, "traceparent": header},
        )
    assert answer.status_code == 202, answer.text
    exchange_id = answer.json()["exchange_id"]
    assert {ANSWERING, FAILING} <= set(answer.json()["recipients"])
    topic = gateway.topic(ANSWERING)
    (message,) = read_topic(gateway.bootstrap, topic, exchange_id=exchange_id, expect=1)
    gateway.wait_drained()
    names = {f"send {topic}", f"webhook {ANSWERING}", f"webhook {FAILING}", "POST"}
    names.add("POST /v1/inbound/{fmt}")  # the server span ends once the answer is sent
    found = _wait_for_spans(spans, trace_id, names)
    by_name: dict[str, list[ReadableSpan]] = {}
    for span in found:
        by_name.setdefault(span.name, []).append(span)

    # The server span continues the partner's trace and names the route, not the path.
    (server,) = by_name["POST /v1/inbound/{fmt}"]
    assert server.kind is SpanKind.SERVER and _parent_id(server) == partner_span
    assert server.attributes["http.route"] == "/v1/inbound/{fmt}"
    assert server.attributes["http.response.status_code"] == 202

    # Ingest and the exchange under it; each stage under the exchange, in order.
    (ingest,) = by_name["ingest"]
    (exchange,) = by_name["exchange"]
    assert _parent_id(ingest) == _parent_id(exchange) == _span_id(server)
    assert exchange.attributes["isg.exchange_id"] == exchange_id
    assert exchange.attributes["isg.source_partner"] == "cheshire-police"
    stages = [by_name[name][0] for name in STAGES]
    assert all(len(by_name[name]) == 1 for name in STAGES)
    assert all(_parent_id(stage) == _span_id(exchange) for stage in stages)
    starts = [stage.start_time for stage in stages]
    assert starts == sorted(starts), "the stages ran in the flow's order"
    assert by_name["decide"][0].attributes["isg.permits"] == len(answer.json()["recipients"])

    # The relay continues the trace: a producer span per copy under the exchange, and
    # the message names the publish span as its parent.
    publishes = [s for s in found if s.name.startswith("send ")]
    assert len(publishes) == len(answer.json()["recipients"])
    assert all(s.kind is SpanKind.PRODUCER for s in publishes)
    assert all(_parent_id(s) == _span_id(exchange) for s in publishes)
    (publish,) = by_name[f"send {topic}"]
    assert publish.attributes["messaging.destination.name"] == topic
    assert publish.attributes["isg.delivery_id"] == message["headers"]["delivery-id"]
    _version, carried_trace, carried_parent, flags = message["headers"]["traceparent"].split("-")
    assert (carried_trace, carried_parent, flags) == (trace_id, _span_id(publish), "01")

    # A webhook delivery: its span under the exchange, one client span per attempt
    # under it, and the peer got the client span's trace context.
    (webhook,) = by_name[f"webhook {ANSWERING}"]
    assert _parent_id(webhook) == _span_id(exchange)
    attempts = [s for s in by_name["POST"] if _parent_id(s) == _span_id(webhook)]
    assert [s.kind for s in attempts] == [SpanKind.CLIENT]
    assert attempts[0].attributes["http.response.status_code"] == 200
    received = [a.traceparent for a in answering.attempts if a.traceparent]
    assert f"00-{trace_id}-{_span_id(attempts[0])}-01" in received

    # The failing peer's delivery is marked failed, by type alone.
    (refused,) = by_name[f"webhook {FAILING}"]
    assert refused.status.status_code.name == "ERROR"

    # Every span of the exchange is in the partner's one trace, and none carries a value
    # of the record: not in its name, its attributes, its status or its events.
    ours = [s for s in found if s is not server]
    assert all(f"{s.context.trace_id:032x}" == trace_id for s in ours)
    emitted = [
        str(text)
        for s in found
        for text in (
            s.name,
            s.status.description,
            *s.attributes.values(),
            *(str(e.attributes) for e in s.events),
        )
        if text is not None
    ]
    leaks = {v for v in sample_values() for text in emitted if v in text}
    assert not leaks, f"record values in spans: {sorted(leaks)}"


def test_without_a_partners_trace_each_request_starts_one(pushing_gateway, spans):
    """No traceparent: the server span starts a trace of its own, the exchange in it."""
    gateway, _answering, _failing = pushing_gateway
    with gateway.client("cheshire-police") as client:
        answer = client.post(
            "/v1/inbound/police", content=POLICE_SAMPLE.read_bytes(), headers=PARTNER
        )
    assert answer.status_code == 202, answer.text
    exchange_id = answer.json()["exchange_id"]
    (message,) = read_topic(
        gateway.bootstrap, gateway.topic(ANSWERING), exchange_id=exchange_id, expect=1
    )
    trace_id = message["headers"]["traceparent"].split("-")[1]
    assert trace_id != "0" * 32
    # Recorded or not (the session's sample ratio decides), the exchange's spans that
    # were recorded are in that one trace.
    exchanges = [
        s
        for s in spans.get_finished_spans()
        if s.name == "exchange" and s.attributes.get("isg.exchange_id") == exchange_id
    ]
    assert all(f"{s.context.trace_id:032x}" == trace_id for s in exchanges)


def test_a_rejected_record_fails_its_exchange_span_by_type_alone(pushing_gateway, spans):
    """A record refused at validation: the exchange span is an error named by the
    exception's type; its message (which may quote the record) is nowhere in the span."""
    gateway, _answering, _failing = pushing_gateway
    header, trace_id, _partner_span = traceparent()
    body = POLICE_SAMPLE.read_text().replace('"stalking-risk-management"', '"no-such-purpose"')
    with gateway.client("cheshire-police") as client:
        answer = client.post(
            "/v1/inbound/police", content=body, headers={**PARTNER, "traceparent": header}
        )
    assert answer.status_code == 422, answer.text
    server = "POST /v1/inbound/{fmt}"  # it ends once the answer is sent
    found = {s.name: s for s in _wait_for_spans(spans, trace_id, {server})}
    exchange = found["exchange"]
    assert exchange.status.status_code.name == "ERROR"
    assert exchange.status.description == exchange.attributes["error.type"] == "InvalidRecord"
    assert not exchange.events
    assert found["validate"].attributes["error.type"] == "InvalidRecord"
    assert "decide" not in found
    assert found[server].attributes["http.response.status_code"] == 422
