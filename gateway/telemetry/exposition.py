"""What a scrape answers: the counted metrics, and the gauges read at scrape time.

The counted ones come from this process's registry, or, under ``serve
--workers``, from every process's files (``prometheus_client``'s multiprocess
collector). The rest is read when scraped: the outbox's backlog and its
oldest row's age and the open dead letters from the store (so they count
every relay's work, not this process's), the policy bundle in force, and
whether the broker answers. A store that cannot answer leaves its gauges out
(``isg_store_available`` 0) rather than fail the scrape.

``gateway relay`` serves the same on a port of its own (``serve_relay_metrics``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from gateway.delivery import outbox
from gateway.errors import ServiceUnavailable
from gateway.store.db import as_utc
from gateway.telemetry.multiprocess import multiprocess_dir

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from gateway.policy.live import LivePolicy
    from gateway.store import Store

log = logging.getLogger(__name__)

STORE_AVAILABLE = "1 when the store answers, 0 when not"
#: The media type of the text ``render`` writes.
CONTENT_TYPE = CONTENT_TYPE_LATEST


@dataclass(eq=False)  # a registry keeps its collectors in a dict
class State(Collector):
    """The gauges read at scrape time, from the store, the policy and the broker."""

    store: Store
    policy: LivePolicy
    #: Whether the broker answers now (``broker_answers`` over the configured bootstrap).
    broker_up: Callable[[], bool]

    def collect(self) -> Iterable[Metric]:
        yield from self._store_gauges()
        yield from self._policy()
        yield GaugeMetricFamily(
            "isg_broker_available",
            "1 when the broker answers a metadata request, 0 when not",
            self.broker_up(),
        )

    def _store_gauges(self) -> Iterable[Metric]:
        try:
            with self.store.engine.connect() as conn:
                pending, oldest = outbox.backlog(conn)
                dead = outbox.open_dead_letters(conn)
        except (SQLAlchemyError, ServiceUnavailable) as exc:
            log.warning("metrics: the store did not answer (%s)", type(exc).__name__)
            yield GaugeMetricFamily("isg_store_available", STORE_AVAILABLE, 0)
            return
        yield GaugeMetricFamily("isg_store_available", STORE_AVAILABLE, 1)
        yield GaugeMetricFamily(
            "isg_outbox_pending", "Deliveries waiting in the outbox (every relay's)", pending
        )
        age = (datetime.now(UTC) - as_utc(oldest)).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily(
            "isg_outbox_oldest_pending_age_seconds",
            "How long the oldest delivery waiting in the outbox has waited (0: none waits)",
            max(0.0, age),
        )
        yield GaugeMetricFamily(
            "isg_dead_letters_open", "Dead letters not replayed: deliveries waiting for you", dead
        )

    def _policy(self) -> Iterable[Metric]:
        bundle = self.policy.current
        info = GaugeMetricFamily(
            "isg_policy_info",
            "The policy bundle in force (value 1): its hash, the agreement and its version",
            labels=["version", "agreement", "agreement_version"],
        )
        info.add_metric([bundle.version, bundle.agreement_id, bundle.agreement_version], 1)
        yield info
        yield CounterMetricFamily(
            "isg_policy_reloads",
            "Policy bundles reloaded (this process)",
            self.policy.reloads,
        )
        yield CounterMetricFamily(
            "isg_policy_rejected_reloads",
            "Changed policy files refused: lint or tests failed (this process)",
            self.policy.rejected_reloads,
        )


class _Counted(Collector):
    """This process's own registry, as one collector of another registry."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def registry(state: State | None) -> CollectorRegistry:
    """A registry of everything a scrape shows: every process's counts under
    ``--workers``, this one's otherwise, and ``state``'s gauges."""
    combined = CollectorRegistry(auto_describe=False)
    if multiprocess_dir() is not None:
        MultiProcessCollector(combined)  # type: ignore[no-untyped-call]
    else:
        combined.register(_Counted())
    if state is not None:
        combined.register(state)
    return combined


def render(state: State | None) -> bytes:
    """The Prometheus text of a scrape."""
    return generate_latest(registry(state))


def serve_relay_metrics(host: str, port: int, state: State) -> Callable[[], None] | None:
    """Serve ``/metrics`` for a relay process on ``host:port``, in a thread; the
    function that stops it, or None when the port cannot be had (logged: a relay
    without its metrics still delivers)."""
    try:
        server, thread = start_http_server(port, host, registry=registry(state))
    except OSError as exc:
        log.warning("relay metrics not served on %s:%d: %s", host, port, exc.strerror or exc)
        return None

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop
