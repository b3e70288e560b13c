"""The outbox relay: delivers committed outbox rows through their channel.

Workers (threads) per channel claim queue heads, hand them to the channel and
record each outcome: delivered rows are marked sent and audited as a
*transmission* in one transaction; retryable failures go back with a delay;
final failures go to the dead-letter table. Nothing is dropped.

The Kafka worker also watches for a broker that lost its data (topics gone,
as when an in-memory broker restarts): it recreates the topics and re-feeds
recent deliveries from the store. Consumers drop the duplicates by delivery id.

Each channel also has an urgent lane: a worker of its own (with its own
channel, so its own Kafka producer) that claims only urgent rows, while the
channel's other workers claim only ordinary ones. An alert is never behind a
batch of ordinary rows being published or recorded. The urgent lane takes one
subject's consecutive urgent rows together and sends them in rounds: the
first of each subject, then the next of each subject whose row before it was
delivered, so they leave in order.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Protocol

from kafka.errors import KafkaError

from gateway.audit import Action, AuditEntry
from gateway.audit.subjects import payload_sha256, trace_id_of
from gateway.delivery import outbox
from gateway.delivery.channels import Outcome
from gateway.delivery.kafka_config import KafkaConnection
from gateway.delivery.topics import ensure_topics
from gateway.errors import ServiceUnavailable
from gateway.store import Store
from gateway.store.audit_log import append
from gateway.telemetry import metrics

log = logging.getLogger(__name__)

TOPIC_CHECK_SECONDS = 5.0
#: A next batch this big is a backlog: the channel's other workers are woken to share it.
BACKLOG_ROWS = 64
#: How often an idle worker reads whether another process committed rows for it, so
#: rows committed by ``serve --workers``' API processes go out within this, not a poll.
PEEK_SECONDS = 0.02
#: Why an urgent row was not attempted: the row before it in its queue failed.
FOLLOWS_A_FAILURE = "not attempted: an earlier delivery of its subject failed"


class Channel(Protocol):
    name: str
    lease: timedelta  # how long a claim holds before another worker may take the rows
    batch: int  # rows claimed at once
    workers: int  # worker threads unless the relay is told otherwise

    def deliver(self, rows: list[dict[str, Any]]) -> list[Outcome]: ...

    def close(self) -> None: ...


def urgent_lane(channel: Channel) -> Channel:
    """The channel the urgent lane delivers through: the channel's own ``lane()`` (a
    Kafka channel with a producer of its own, whose flush never waits for ordinary
    records), or the channel itself."""
    lane: Callable[[], Channel] | None = getattr(channel, "lane", None)
    return lane() if lane is not None else channel


def deliver_in_order(channel: Channel, rows: list[dict[str, Any]]) -> list[Outcome]:
    """Deliver rows of which several may be one queue's (destination and subject):
    in rounds, the first row of each queue, then the next of each queue whose row
    before it was delivered. A row whose predecessor failed is not attempted; it
    goes back, to follow its predecessor."""
    queues: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r["id"]):
        queues[(row["destination"], row["message_key"])].append(row)
    if all(len(q) == 1 for q in queues.values()):
        return channel.deliver(rows)
    outcomes: list[Outcome] = []
    while queues:
        heads = [q.pop(0) for q in queues.values()]
        results = channel.deliver(heads)
        outcomes += results
        delivered = {o.row["id"] for o in results if o.delivered}
        for head in heads:
            key = (head["destination"], head["message_key"])
            if head["id"] not in delivered:
                outcomes += [
                    Outcome(r, False, error=FOLLOWS_A_FAILURE, retry_in=timedelta(0))
                    for r in queues[key]
                ]
                queues[key] = []
            if not queues[key]:
                del queues[key]
    return outcomes


def delivery_audit(action: str, actor: str, row: dict[str, Any], **details: Any) -> AuditEntry:
    """An audit entry about one delivery (an outbox or dead-letter row): what happened
    to it, with the delivery id, channel and destination that identify it; for an
    outbox row also the SHA-256 of the bytes sent and the exchange's trace id."""
    payload, headers = row.get("payload"), row.get("headers")
    if isinstance(headers, str):
        headers = json.loads(headers)
    sent = {"payload_sha256": payload_sha256(payload)} if isinstance(payload, str) else {}
    trace_id = trace_id_of(headers if isinstance(headers, dict) else None)
    if trace_id:
        sent["trace_id"] = trace_id
    return AuditEntry(
        action=action,
        actor=actor,
        recipient=row["recipient"],
        exchange_id=row["exchange_id"],
        details={
            "delivery_id": row["delivery_id"],
            "channel": row["channel"],
            "destination": row["destination"],
            **sent,
            **details,
        },
    )


class Relay:
    def __init__(
        self,
        store: Store,
        channels: list[Channel],
        *,
        workers: int | None = None,
        poll_seconds: float = 0.5,
        bootstrap: str | KafkaConnection | None = None,
        topics: Callable[[], list[str]] | None = None,
        refeed_window: timedelta = timedelta(days=7),
        peek_seconds: float = PEEK_SECONDS,
        urgent_lanes: bool = True,
    ) -> None:
        self.store = store
        self.channels = channels
        self.workers = workers
        self.poll_seconds = poll_seconds
        self.bootstrap = bootstrap
        self.topics = topics
        self.refeed_window = refeed_window
        self.peek_seconds = peek_seconds
        self.urgent_lanes = urgent_lanes
        self._lanes: list[Channel] = []  # the urgent lanes' own channels
        self._urgent_wake = threading.Event()
        self.node = f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        metrics.channels_known([c.name for c in channels])
        self.delivered = 0
        self.dead_lettered = 0
        self.refeeds = 0
        self.last_error: str | None = None

    # -- lifecycle ----------------------------------------------------------
    def start(self) -> None:
        for channel in self.channels:
            for n in range(self.workers or channel.workers):
                worker = f"{self.node}:{channel.name}:{n}"
                thread = threading.Thread(
                    target=self._run, args=(channel, worker), name=worker, daemon=True
                )
                thread.start()
                self._threads.append(thread)
            if self.urgent_lanes:
                lane = urgent_lane(channel)
                if lane is not channel:
                    self._lanes.append(lane)
                worker = f"{self.node}:{channel.name}:urgent"
                thread = threading.Thread(
                    target=self._run, args=(lane, worker, "urgent"), name=worker, daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._urgent_wake.set()
        for thread in self._threads:
            thread.join(timeout=30)
        for channel in self.channels + self._lanes:
            channel.close()

    def nudge(self) -> None:
        """Called after a commit so new rows go out without waiting for the poll."""
        self._wake.set()
        self._urgent_wake.set()

    # -- work ---------------------------------------------------------------
    def _run(self, channel: Channel, worker: str, lane: outbox.Lane | None = None) -> None:
        """One worker's loop. ``lane``: "urgent" for a channel's urgent lane; the
        others take ordinary rows when there is an urgent lane, any row otherwise."""
        lane = lane or ("ordinary" if self.urgent_lanes else "any")
        last_topic_check = 0.0
        rows: list[dict[str, Any]] = []  # claimed, not yet delivered
        while not self._stop.is_set():
            if (
                channel.name == "kafka"
                and lane != "urgent"
                and time.monotonic() - last_topic_check > TOPIC_CHECK_SECONDS
            ):
                last_topic_check = time.monotonic()
                self.refeed_if_broker_lost_data()
            delivered = len(rows)
            try:
                if not rows:
                    rows = self._claim(channel, worker, lane)
                    delivered = len(rows)
                if rows:
                    # The outcomes are recorded and the next batch claimed in one
                    # transaction: one turn at the store's write lock, not two.
                    outcomes = (
                        deliver_in_order(channel, rows)
                        if lane == "urgent"
                        else channel.deliver(rows)
                    )
                    rows = self._record(outcomes, worker, claim_next=channel, lane=lane)
            except Exception as exc:  # one bad batch must not stop the relay
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("relay batch failed: %s", self.last_error)
                rows = []  # their claims lapse and another turn retries them
            if len(rows) >= BACKLOG_ROWS:
                # Wake the channel's other workers, so one delivers while another
                # records (otherwise they sleep out their poll).
                self._wake.set()
            if not delivered and not rows:
                self._wait_for_work(channel, lane)
        if rows:
            self._unclaim(rows, worker)

    def _wait_for_work(self, channel: Channel, lane: outbox.Lane = "any") -> None:
        """Idle until nudged (a commit in this process), until a cheap read sees a
        row ready (committed by another process: ``serve --workers``), or until the
        poll interval ends. The read takes no write lock, unlike a claim. The urgent
        lane, nudged by every commit, claims only once that read sees an urgent row."""
        wake = self._urgent_wake if lane == "urgent" else self._wake
        deadline = time.monotonic() + self.poll_seconds
        while not self._stop.is_set():
            if wake.wait(min(self.peek_seconds, self.poll_seconds)):
                wake.clear()
                if lane != "urgent" or self._rows_ready(channel, lane):
                    return
                continue
            if time.monotonic() >= deadline or self._rows_ready(channel, lane):
                return

    def _rows_ready(self, channel: Channel, lane: outbox.Lane = "any") -> bool:
        try:
            with self.store.engine.connect() as conn:
                return outbox.has_ready(conn, channel.name, lane)
        except Exception:  # a store that is down: the claim after the poll says why
            return False

    def _claim(
        self, channel: Channel, worker: str, lane: outbox.Lane = "any"
    ) -> list[dict[str, Any]]:
        try:
            with self.store.transaction() as conn:
                return outbox.claim(
                    conn, worker, channel.batch, channel.lease, channel=channel.name, lane=lane
                )
        except ServiceUnavailable as exc:
            self.last_error = str(exc)
            return []

    def _unclaim(self, rows: list[dict[str, Any]], worker: str) -> None:
        """On stop, hand back rows claimed for the next batch so no lease must lapse."""
        try:
            with self.store.transaction() as conn:
                outbox.unclaim(conn, [r["id"] for r in rows], worker)
        except Exception as exc:  # their leases lapse instead
            log.warning("could not hand back %d claimed rows: %s", len(rows), exc)

    def _record(
        self,
        outcomes: list[Outcome],
        worker: str,
        claim_next: Channel | None = None,
        lane: outbox.Lane = "any",
    ) -> list[dict[str, Any]]:
        """Record a batch's outcomes in one transaction (one turn at the audit chain's
        lock); with ``claim_next``, claim that channel's next batch in it too."""
        # Entries built (and serialised) before the transaction, not under its lock.
        sent = {
            o.row["id"]: delivery_audit(Action.TRANSMISSION, "gateway", o.row, **o.detail)
            for o in outcomes
            if o.delivered
        }
        undelivered: list[AuditEntry] = []
        following: list[dict[str, Any]] = []
        with self.store.transaction() as conn:
            held = outbox.mark_all_sent(conn, list(sent), worker)
            transmissions = [entry for row_id, entry in sent.items() if row_id in held]
            for outcome in outcomes:
                row = outcome.row
                if outcome.delivered:
                    continue
                if outcome.dead:
                    reason = outcome.error or "failed"
                    if outbox.dead_letter(conn, row, worker, reason):
                        # Decided but never delivered: the trail must say so, and why.
                        undelivered.append(
                            delivery_audit(Action.UNDELIVERED, "gateway", row, reason=reason[:500])
                        )
                        log.warning("delivery %s dead-lettered: %s", row["delivery_id"], reason)
                else:
                    self.last_error = outcome.error
                    outbox.release(
                        conn, row["id"], worker, outcome.error or "failed", outcome.retry_in
                    )
            if claim_next is not None:
                # After marking this batch sent: the subjects' next rows are queue heads now.
                following = outbox.claim(
                    conn,
                    worker,
                    claim_next.batch,
                    claim_next.lease,
                    channel=claim_next.name,
                    lane=lane,
                )
            # Last, so the audit chain's lock is held only until the commit.
            append(conn, transmissions + undelivered)
        self.delivered += len(transmissions)
        self.dead_lettered += len(undelivered)
        metrics.delivered(
            [o.row for o in outcomes if o.delivered and o.row["id"] in held], outbox.now()
        )
        metrics.dead_lettered([entry.details["channel"] for entry in undelivered])
        return following

    def refeed_if_broker_lost_data(self) -> int:
        """Recreate missing topics and re-send what was sent to them recently.

        A topic that never existed (a new party) has no sent rows, so creating
        it re-sends nothing. Returns the number of rows requeued.
        """
        if self.bootstrap is None or self.topics is None:
            return 0
        try:
            missing = ensure_topics(self.bootstrap, self.topics())
        except (KafkaError, OSError) as exc:
            self.last_error = f"broker unavailable: {exc}"
            return 0
        if not missing:
            return 0
        since = outbox.now() - self.refeed_window
        with self.store.transaction() as conn:
            requeued = outbox.requeue_sent(conn, missing, since)
        if requeued:
            self.refeeds += 1
            metrics.REFEEDS.inc()
            log.warning(
                "broker lost topics %s: recreated them and re-fed %d deliveries from the store",
                ", ".join(missing),
                requeued,
            )
        return requeued
