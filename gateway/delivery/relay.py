"""The outbox relay: delivers committed outbox rows through their channel.

Workers (threads) per channel claim queue heads, hand them to the channel and
record each outcome: delivered rows are marked sent and audited as a
*transmission* in one transaction; retryable failures go back with a delay;
final failures go to the dead-letter table. Nothing is dropped.

The Kafka worker also watches for a broker that lost its data (topics gone,
as when an in-memory broker restarts): it recreates the topics and re-feeds
recent deliveries from the store. Consumers drop the duplicates by delivery id.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Protocol

from kafka.errors import KafkaError

from gateway.audit import Action, AuditEntry
from gateway.delivery import outbox
from gateway.delivery.channels import Outcome
from gateway.delivery.topics import ensure_topics
from gateway.errors import ServiceUnavailable
from gateway.store import Store
from gateway.store.audit_log import append

log = logging.getLogger(__name__)

TOPIC_CHECK_SECONDS = 5.0
#: A next batch this big is a backlog: the channel's other workers are woken to share it.
BACKLOG_ROWS = 64
#: How often an idle worker reads whether another process committed rows for it, so
#: rows committed by ``serve --workers``' API processes go out within this, not a poll.
PEEK_SECONDS = 0.02


class Channel(Protocol):
    name: str
    lease: timedelta  # how long a claim holds before another worker may take the rows
    batch: int  # rows claimed at once
    workers: int  # worker threads unless the relay is told otherwise

    def deliver(self, rows: list[dict[str, Any]]) -> list[Outcome]: ...

    def close(self) -> None: ...


def delivery_audit(action: str, actor: str, row: dict[str, Any], **details: Any) -> AuditEntry:
    """An audit entry about one delivery (an outbox or dead-letter row): what happened
    to it, with the delivery id, channel and destination that identify it."""
    return AuditEntry(
        action=action,
        actor=actor,
        recipient=row["recipient"],
        exchange_id=row["exchange_id"],
        details={
            "delivery_id": row["delivery_id"],
            "channel": row["channel"],
            "destination": row["destination"],
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
        bootstrap: str | None = None,
        topics: Callable[[], list[str]] | None = None,
        refeed_window: timedelta = timedelta(days=7),
        peek_seconds: float = PEEK_SECONDS,
    ) -> None:
        self.store = store
        self.channels = channels
        self.workers = workers
        self.poll_seconds = poll_seconds
        self.bootstrap = bootstrap
        self.topics = topics
        self.refeed_window = refeed_window
        self.peek_seconds = peek_seconds
        self.node = f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
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

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=30)
        for channel in self.channels:
            channel.close()

    def nudge(self) -> None:
        """Called after a commit so new rows go out without waiting for the poll."""
        self._wake.set()

    # -- work ---------------------------------------------------------------
    def _run(self, channel: Channel, worker: str) -> None:
        last_topic_check = 0.0
        rows: list[dict[str, Any]] = []  # claimed, not yet delivered
        while not self._stop.is_set():
            if (
                channel.name == "kafka"
                and time.monotonic() - last_topic_check > TOPIC_CHECK_SECONDS
            ):
                last_topic_check = time.monotonic()
                self.refeed_if_broker_lost_data()
            delivered = len(rows)
            try:
                if not rows:
                    rows = self._claim(channel, worker)
                    delivered = len(rows)
                if rows:
                    # The outcomes are recorded and the next batch claimed in one
                    # transaction: one turn at the store's write lock, not two.
                    rows = self._record(channel.deliver(rows), worker, claim_next=channel)
            except Exception as exc:  # one bad batch must not stop the relay
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("relay batch failed: %s", self.last_error)
                rows = []  # their claims lapse and another turn retries them
            if len(rows) >= BACKLOG_ROWS:
                # Wake the channel's other workers, so one delivers while another
                # records (otherwise they sleep out their poll).
                self._wake.set()
            if not delivered and not rows:
                self._wait_for_work(channel)
        if rows:
            self._unclaim(rows, worker)

    def _wait_for_work(self, channel: Channel) -> None:
        """Idle until nudged (a commit in this process), until a cheap read sees a
        row ready (committed by another process: ``serve --workers``), or until the
        poll interval ends. The read takes no write lock, unlike a claim."""
        deadline = time.monotonic() + self.poll_seconds
        while not self._stop.is_set():
            if self._wake.wait(min(self.peek_seconds, self.poll_seconds)):
                self._wake.clear()
                return
            if time.monotonic() >= deadline or self._rows_ready(channel):
                return

    def _rows_ready(self, channel: Channel) -> bool:
        try:
            with self.store.engine.connect() as conn:
                return outbox.has_ready(conn, channel.name)
        except Exception:  # a store that is down: the claim after the poll says why
            return False

    def _claim(self, channel: Channel, worker: str) -> list[dict[str, Any]]:
        try:
            with self.store.transaction() as conn:
                return outbox.claim(
                    conn, worker, channel.batch, channel.lease, channel=channel.name
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
        self, outcomes: list[Outcome], worker: str, claim_next: Channel | None = None
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
                    conn, worker, claim_next.batch, claim_next.lease, channel=claim_next.name
                )
            # Last, so the audit chain's lock is held only until the commit.
            append(conn, transmissions + undelivered)
        self.delivered += len(transmissions)
        self.dead_lettered += len(undelivered)
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
            log.warning(
                "broker lost topics %s: recreated them and re-fed %d deliveries from the store",
                ", ".join(missing),
                requeued,
            )
        return requeued
