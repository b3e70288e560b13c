"""The outbox relay: publishes committed outbox rows to Kafka.

Runs as a background thread beside the API (and, later, as separate relay
workers). Each published row is marked sent and audited as a *transmission*
in one transaction. A row whose publish fails stays pending and is retried
with a growing delay; the broker being down loses nothing.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from datetime import timedelta

from kafka import KafkaProducer
from kafka.errors import KafkaError

from gateway.audit import Action, AuditEntry, append
from gateway.delivery import outbox
from gateway.errors import ServiceUnavailable
from gateway.store import Store

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=30)
BATCH = 200


def make_producer(bootstrap: str) -> KafkaProducer:
    """An idempotent producer that waits for every in-sync replica."""
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=2,
        retries=5,
        request_timeout_ms=10_000,
        max_block_ms=10_000,
        client_id="isg-gateway-relay",
    )


class Relay:
    def __init__(self, store: Store, bootstrap: str, poll_seconds: float = 0.5) -> None:
        self.store = store
        self.bootstrap = bootstrap
        self.poll_seconds = poll_seconds
        self.worker = f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._producer: KafkaProducer | None = None
        self.published = 0
        self.last_error: str | None = None

    # -- lifecycle ----------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=15)
        if self._producer is not None:
            self._producer.close(timeout=5)
            self._producer = None

    def nudge(self) -> None:
        """Called after a commit so new rows go out without waiting for the poll."""
        self._wake.set()

    # -- work ---------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except Exception as exc:  # keep relaying whatever one batch did
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("relay batch failed: %s", self.last_error)
                busy = False
            if not busy:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()

    def _producer_or_none(self) -> KafkaProducer | None:
        if self._producer is None:
            try:
                self._producer = make_producer(self.bootstrap)
            except (KafkaError, OSError) as exc:
                self.last_error = f"broker unavailable: {exc}"
                return None
        return self._producer

    def run_once(self) -> bool:
        """Publish one batch; True when there was work to do."""
        try:
            with self.store.transaction() as conn:
                rows = outbox.claim(conn, self.worker, BATCH, LEASE)
        except ServiceUnavailable as exc:
            self.last_error = str(exc)
            return False
        if not rows:
            return False
        producer = self._producer_or_none()
        if producer is None:
            self._release_all(rows, self.last_error or "broker unavailable")
            return False
        futures = []
        try:
            for row in rows:
                headers = [(k, v.encode()) for k, v in row["headers"].items()]
                futures.append(
                    producer.send(
                        row["destination"],
                        key=row["message_key"].encode(),
                        value=row["payload"].encode(),
                        headers=headers,
                    )
                )
            producer.flush(timeout=15)
        except KafkaError as exc:
            # Rows already handed to the producer are judged by their futures below.
            self._release_all(rows[len(futures) :], f"publish failed: {exc}")
            rows = rows[: len(futures)]
        for row, future in zip(rows, futures, strict=True):
            try:
                metadata = future.get(timeout=15)
            except KafkaError as exc:
                self._release(row, f"publish failed: {exc}")
                continue
            self._mark_sent(row, metadata.partition, metadata.offset)
        return True

    def _mark_sent(self, row: dict, partition: int, offset: int) -> None:
        with self.store.transaction() as conn:
            if not outbox.mark_sent(conn, row["id"], self.worker):
                return  # lease lost; the other worker audits it
            append(
                conn,
                [
                    AuditEntry(
                        action=Action.TRANSMISSION,
                        actor="gateway",
                        recipient=row["recipient"],
                        exchange_id=row["exchange_id"],
                        details={
                            "delivery_id": row["delivery_id"],
                            "channel": row["channel"],
                            "destination": row["destination"],
                            "partition": partition,
                            "offset": offset,
                        },
                    )
                ],
            )
        self.published += 1

    def _release(self, row: dict, error: str) -> None:
        self.last_error = error
        delay = timedelta(seconds=min(30, 2 ** min(row["attempts"], 5)))
        with self.store.transaction() as conn:
            outbox.release(conn, row["id"], self.worker, error, delay)

    def _release_all(self, rows: list[dict], error: str) -> None:
        for row in rows:
            self._release(row, error)
