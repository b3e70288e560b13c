"""Delivery channels: how a claimed outbox row actually leaves the gateway.

A channel takes a batch of claimed rows and says, per row, whether it was
delivered, should be retried later, or has failed for good (dead letter).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from kafka import KafkaProducer
from kafka.errors import KafkaError
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from gateway.delivery.kafka_config import KafkaConnection, as_connection
from gateway.delivery.partners import WebhookConfig
from gateway.delivery.signing import sign_headers
from gateway.telemetry.http_client import TracingTransport
from gateway.telemetry.tracing import context_from, delivery_span, failed, started, trace_headers

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    row: dict[str, Any]
    delivered: bool
    detail: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    dead: bool = False  # no more attempts: dead-letter it
    retry_in: timedelta = timedelta(seconds=1)


def make_producer(bootstrap: str | KafkaConnection) -> KafkaProducer:
    """An idempotent producer that waits for every in-sync replica."""
    return KafkaProducer(
        **as_connection(bootstrap).client_options(
            acks="all",
            enable_idempotence=True,
            linger_ms=2,
            retries=5,
            request_timeout_ms=10_000,
            max_block_ms=10_000,
            client_id="isg-gateway-relay",
        )
    )


class KafkaChannel:
    """Publishes to Kafka. A broker outage is never final: rows wait and retry."""

    name = "kafka"
    #: A claim outlives a publish (send, flush and acks, well under this); a worker
    #: that dies holding rows leaves them to another worker after this long.
    lease = timedelta(seconds=20)
    batch = 200
    #: One worker: publishing is quick and never waits out a retry, and a second
    #: worker would halve every batch, each costing a transaction and a produce
    #: round trip whatever its size.
    workers = 1

    def __init__(self, bootstrap: str | KafkaConnection) -> None:
        self.bootstrap = as_connection(bootstrap)
        self._producer: KafkaProducer | None = None
        self._lock = threading.Lock()

    def lane(self) -> KafkaChannel:
        """A channel for the relay's urgent lane: a producer of its own, so publishing
        an alert never waits for a flush of ordinary records."""
        return KafkaChannel(self.bootstrap)

    def _producer_or_error(self) -> KafkaProducer | str:
        with self._lock:
            if self._producer is None:
                try:
                    self._producer = make_producer(self.bootstrap)
                except (KafkaError, OSError) as exc:
                    return f"broker unavailable: {exc}"
            return self._producer

    def deliver(self, rows: list[dict[str, Any]]) -> list[Outcome]:
        producer = self._producer_or_error()
        if isinstance(producer, str):
            return [Outcome(r, False, error=producer, retry_in=_backoff(r)) for r in rows]
        futures = []
        unsent: list[Outcome] = []
        for index, row in enumerate(rows):
            span = _publish_span(row)
            try:
                future = producer.send(
                    row["destination"],
                    key=row["message_key"].encode(),
                    value=row["payload"].encode(),
                    headers=[(k, v.encode()) for k, v in _traced(row["headers"], span).items()],
                )
            except KafkaError as exc:
                _published(span, exc)
                # The broker is not answering: do not wait out a timeout per row.
                error = f"publish failed: {exc}"
                unsent = [
                    Outcome(r, False, error=error, retry_in=_backoff(r)) for r in rows[index:]
                ]
                break
            futures.append((row, future, span))
        try:
            producer.flush(timeout=15)
        except KafkaError as exc:
            log.warning("flush failed: %s", exc)
        outcomes = []
        for row, future, span in futures:
            try:
                meta = future.get(timeout=15)
                _published(span, None, meta.partition, meta.offset)
                outcomes.append(
                    Outcome(row, True, {"partition": meta.partition, "offset": meta.offset})
                )
            except KafkaError as exc:
                _published(span, exc)
                outcomes.append(
                    Outcome(row, False, error=f"publish failed: {exc}", retry_in=_backoff(row))
                )
        if unsent or not all(o.delivered for o in outcomes):
            # A fresh producer after a failure: a restarted broker may not know our
            # idempotent producer id, and a new one re-learns the cluster.
            self.close()
        return outcomes + unsent

    def close(self) -> None:
        """Drop the producer. Closing one that cannot reach its broker times out;
        that must neither escape (the batch's outcomes would go unrecorded) nor
        leave the broken producer in place."""
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=5)
            except Exception as exc:  # a timeout here is expected while the broker is away
                log.info("closing the Kafka producer: %s", exc)


def _publish_span(row: dict[str, Any]) -> Span | None:
    """The relay's span for publishing one row, continuing its exchange's trace."""
    topic = row["destination"]
    return delivery_span(
        f"send {topic}",
        row["headers"],
        {
            "messaging.system": "kafka",
            "messaging.operation.name": "send",
            "messaging.operation.type": "send",
            "messaging.destination.name": topic,
            "isg.delivery_id": row["delivery_id"],
            "isg.exchange_id": row["exchange_id"],
            "isg.recipient": row["recipient"],
        },
    )


def _traced(headers: dict[str, str], span: Span | None) -> dict[str, str]:
    """The row's headers, the trace context naming the publish span where there is one
    (a consumer's spans then hang under the publish)."""
    return headers if span is None else {**headers, **trace_headers(span)}


def _published(
    span: Span | None,
    failure: BaseException | None,
    partition: int | None = None,
    offset: int | None = None,
) -> None:
    if span is None:
        return
    if failure is not None:
        failed(span, failure)
    else:
        span.set_attribute("messaging.destination.partition.id", str(partition))
        span.set_attribute("messaging.kafka.offset", int(offset or 0))
    span.end()


def _backoff(row: dict[str, Any]) -> timedelta:
    return timedelta(seconds=min(10, 0.5 * 2 ** min(row["attempts"], 5)))


class RetryableHTTPError(Exception):
    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


@dataclass
class CircuitBreaker:
    """Opens after ``threshold`` failed deliveries in a row; half-opens after ``cooldown``."""

    threshold: int
    cooldown: float
    failures: int = 0
    opened_at: float | None = None

    def allows(self) -> bool:
        if self.opened_at is None:
            return True
        return time.monotonic() - self.opened_at >= self.cooldown  # half-open: one try

    def remaining(self) -> float:
        if self.opened_at is None:
            return 0.0
        return max(0.0, self.cooldown - (time.monotonic() - self.opened_at))

    def record(self, ok: bool) -> None:
        if ok:
            self.failures, self.opened_at = 0, None
            return
        self.failures += 1
        if self.failures >= self.threshold:
            self.opened_at = time.monotonic()


class WebhookChannel:
    """POSTs JSON signed as Standard Webhooks says to each recipient's endpoint, with
    the W3C ``traceparent``, retrying with backoff and jitter.

    Retries (tenacity): 5xx, 408, 429 and transport errors, waiting the longer of
    exponential backoff with jitter and the peer's ``Retry-After``, up to the
    endpoint's ``max_attempts``; then the delivery is dead-lettered. A 4xx other
    than 408/429 is final at once: the peer refused it. A circuit breaker per
    endpoint stops calling a peer that keeps failing; rows wait for it to close.
    """

    name = "webhook"
    #: Long enough for every attempt of a batch with backoff and Retry-After.
    lease = timedelta(minutes=10)
    batch = 20
    #: A peer being retried (backoff, Retry-After) holds its worker meanwhile: a
    #: second worker keeps the other endpoints' deliveries moving.
    workers = 2

    def __init__(self, webhooks: dict[str, WebhookConfig]) -> None:
        self.webhooks = webhooks
        self.breakers = {
            r: CircuitBreaker(c.breaker_failures, c.breaker_cooldown_seconds)
            for r, c in webhooks.items()
        }
        # Each attempt a client span, its trace context in the request's traceparent.
        self.client = httpx.Client(follow_redirects=False, transport=TracingTransport())
        self.attempts_made = 0

    def deliver(self, rows: list[dict[str, Any]]) -> list[Outcome]:
        return [self._deliver_one(row) for row in rows]

    def _deliver_one(self, row: dict[str, Any]) -> Outcome:
        """Deliver one row in a span continuing its exchange's trace: each attempt's
        client span (``TracingTransport``) is a child of it."""
        attributes = {
            "isg.delivery_id": row["delivery_id"],
            "isg.exchange_id": row["exchange_id"],
            "isg.recipient": row["recipient"],
        }
        with started(
            f"webhook {row['recipient']}",
            kind=SpanKind.PRODUCER,
            context=context_from(row["headers"]),
            attributes=attributes,
        ) as span:
            outcome = self._attempts(row)
            if not outcome.delivered:
                span.set_status(
                    Status(StatusCode.ERROR, "dead-lettered" if outcome.dead else "retry")
                )
            return outcome

    def _attempts(self, row: dict[str, Any]) -> Outcome:
        config = self.webhooks.get(row["recipient"])
        if config is None:
            return Outcome(row, False, error="no webhook configured for this recipient", dead=True)
        breaker = self.breakers[row["recipient"]]
        if not breaker.allows():
            return Outcome(
                row,
                False,
                error="circuit open",
                retry_in=timedelta(seconds=breaker.remaining() + 0.1),
            )
        body = row["payload"].encode()
        key = config.key()

        def wait(state: RetryCallState) -> float:
            backoff = wait_exponential_jitter(
                multiplier=config.initial_backoff_seconds,
                max=config.max_backoff_seconds,
                jitter=config.initial_backoff_seconds,
            )(state)
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, RetryableHTTPError) and exc.retry_after is not None:
                return max(backoff, min(exc.retry_after, config.retry_after_cap_seconds))
            return backoff

        def attempt() -> httpx.Response:
            self.attempts_made += 1
            response = self.client.post(
                str(config.url),
                content=body,
                timeout=config.timeout_seconds,
                headers={
                    "Content-Type": row["headers"].get("content-type", "application/json"),
                    # Signed afresh each attempt: the timestamp says when it was sent.
                    **sign_headers(row["delivery_id"], body, key),
                    "ISG-Delivery-Id": row["delivery_id"],
                    "ISG-Exchange-Id": row["exchange_id"],
                    **{k: v for k, v in row["headers"].items() if k == "traceparent"},
                },
            )
            if response.status_code >= 500 or response.status_code in (408, 429):
                raise RetryableHTTPError(
                    response.status_code, _retry_after_seconds(response.headers.get("Retry-After"))
                )
            return response

        try:
            response = Retrying(
                stop=stop_after_attempt(config.max_attempts),
                wait=wait,
                retry=retry_if_exception_type((RetryableHTTPError, httpx.TransportError)),
                reraise=True,
            )(attempt)
        except (RetryableHTTPError, httpx.TransportError) as exc:
            breaker.record(False)
            reason = f"gave up after {config.max_attempts} attempts: {type(exc).__name__}: {exc}"
            return Outcome(row, False, error=reason, dead=True)
        if response.is_success:
            breaker.record(True)
            return Outcome(row, True, {"status": response.status_code, "url": str(config.url)})
        breaker.record(True)  # the peer answered; it refused this delivery
        return Outcome(
            row, False, error=f"refused by the peer: HTTP {response.status_code}", dead=True
        )

    def close(self) -> None:
        self.client.close()
