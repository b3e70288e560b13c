"""The metrics the gateway counts as it works, through ``prometheus_client``.

These live in the process's default registry, or, under ``serve --workers``
(``PROMETHEUS_MULTIPROC_DIR`` set before this module is first imported), in
files every process writes and any process's ``/metrics`` sums. Only counters
and histograms are counted here: they sum across processes. Gauges (the
outbox's backlog, dead letters, the policy in force, the broker) are read when
scraped (``gateway.telemetry.exposition``), so no process's stale value lingers.

Labels are bounded sets: route templates (never paths), formats, channels,
decisions, rule names; never an id or a value of a record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter, Histogram, disable_created_metrics

from gateway.policy.model import SAFETY_NET

if TYPE_CHECKING:
    from gateway.policy import Decision

# ``*_created`` series double every counter's output and mean nothing across processes.
disable_created_metrics()  # type: ignore[no-untyped-call]

#: Seconds, from a loopback answer to a slow PostgreSQL's.
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Seconds from an alert's copy being kept to its acknowledgement: minutes to a day.
ACKNOWLEDGEMENT_BUCKETS = (10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400)
#: Seconds from a copy's commit to its delivery (a broker outage makes it minutes).
DELIVERY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

HTTP_REQUESTS = Counter(
    "isg_http_requests",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "isg_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
EXCHANGES = Counter(
    "isg_exchanges",
    "Exchanges kept, by format and decision (permit: a named recipient receives it; "
    "safety-net: only the agreement's safety net; deny: nobody)",
    ["format", "decision"],
)
RECORDS_REJECTED = Counter(
    "isg_records_rejected",
    "Records refused as invalid (not kept), by format",
    ["format"],
)
DENIALS = Counter(
    "isg_denials",
    "Recipients refused a record, by the rule that decided",
    ["rule"],
)
SAFETY_NET_SENDS = Counter(
    "isg_safety_net",
    "Immediate records no named recipient could receive, sent to the safety net",
)
DELIVERED = Counter(
    "isg_relay_delivered",
    "Deliveries marked sent, by channel",
    ["channel"],
)
DEAD_LETTERED = Counter(
    "isg_relay_dead_lettered",
    "Deliveries dead-lettered after their last attempt, by channel",
    ["channel"],
)
REFEEDS = Counter("isg_relay_refeeds", "Broker re-feeds from the store")
DELIVERY_SECONDS = Histogram(
    "isg_delivery_seconds",
    "Time from a copy's commit to its delivery, by channel",
    ["channel"],
    buckets=DELIVERY_BUCKETS,
)
ACKNOWLEDGEMENT_SECONDS = Histogram(
    "isg_alert_time_to_acknowledge_seconds",
    "Time from a copy that must be acknowledged being kept to its acknowledgement, "
    "by whether it had been escalated",
    ["escalated"],
    buckets=ACKNOWLEDGEMENT_BUCKETS,
)
ESCALATIONS = Counter(
    "isg_escalations",
    "Acknowledgement deadlines passed: to the next desk, or with no steps left",
    ["outcome"],
)


def exchange_kept(fmt: str, decisions: Sequence[Decision]) -> None:
    """Count a committed exchange, its decision and the rule of each refusal."""
    permitted = [d for d in decisions if d.permitted]
    net = [d for d in permitted if d.rules == (SAFETY_NET,)]
    if net:
        SAFETY_NET_SENDS.inc()
    decision = "deny" if not permitted else "safety-net" if net == permitted else "permit"
    EXCHANGES.labels(fmt, decision).inc()
    for refused in decisions:
        if not refused.permitted:
            DENIALS.labels(refused.rules[0] if refused.rules else "none").inc()


def acknowledged(waited: timedelta, step: int) -> None:
    ACKNOWLEDGEMENT_SECONDS.labels("true" if step > 0 else "false").observe(
        max(0.0, waited.total_seconds())
    )


def escalated(exhausted: bool) -> None:
    ESCALATIONS.labels("exhausted" if exhausted else "next-step").inc()


def delivered(rows: Sequence[Mapping[str, Any]], now: datetime) -> None:
    """Count deliveries marked sent, and time each from its commit (a relay's batch
    is one channel's: the labelled children are looked up once a batch)."""
    by_channel: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_channel.setdefault(row["channel"], []).append(row)
    for channel, sent in by_channel.items():
        DELIVERED.labels(channel).inc(len(sent))
        timing = DELIVERY_SECONDS.labels(channel)
        for row in sent:
            created = row.get("created_at")
            if isinstance(created, datetime):
                at = created if created.tzinfo is not None else created.replace(tzinfo=UTC)
                timing.observe(max(0.0, (now - at).total_seconds()))


def dead_lettered(channels: Sequence[str]) -> None:
    for channel in channels:
        DEAD_LETTERED.labels(channel).inc()


def channels_known(names: Sequence[str]) -> None:
    """Show each channel's delivery counters from the start, at 0, so an alert on
    their rate has a series to read before the first delivery."""
    for name in names:
        DELIVERED.labels(name)
        DEAD_LETTERED.labels(name)
