"""Outbox claims: several workers never take the same row, and one subject's
deliveries to one recipient go out in order."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from gateway.delivery import outbox
from gateway.delivery.channels import KafkaChannel, Outcome, WebhookChannel
from gateway.delivery.relay import Relay
from gateway.store import Store
from tests.conftest import enqueue_deliveries

LEASE = timedelta(seconds=30)


@pytest.fixture
def store(fresh_store: Store) -> Store:
    return fresh_store


def _claim(store: Store, worker: str, limit: int = 100) -> list[dict]:
    with store.transaction() as conn:
        return outbox.claim(conn, worker, limit, LEASE)


def test_only_the_head_of_each_subject_queue_is_claimed(store):
    ids = enqueue_deliveries(store, ["k1", "k1", "k2", "k1", "k2"])
    first = _claim(store, "w1")
    assert [r["delivery_id"] for r in first] == [ids[0], ids[2]]
    assert _claim(store, "w2") == []  # the next rows wait for their heads

    with store.transaction() as conn:
        assert outbox.mark_all_sent(conn, [first[0]["id"]], "w1") == {first[0]["id"]}
    second = _claim(store, "w2")
    assert [r["delivery_id"] for r in second] == [ids[1]]


def test_concurrent_workers_never_share_a_row(store):
    ids = enqueue_deliveries(store, [f"k{i}" for i in range(120)])
    claimed: dict[str, list[str]] = {}
    barrier = threading.Barrier(4)

    def work(worker: str) -> None:
        barrier.wait()
        got = []
        while rows := _claim(store, worker, limit=7):
            got += [r["delivery_id"] for r in rows]
            with store.transaction() as conn:
                row_ids = [row["id"] for row in rows]
                assert outbox.mark_all_sent(conn, row_ids, worker) == set(row_ids)
        claimed[worker] = got

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    every = [d for got in claimed.values() for d in got]
    assert sorted(every) == sorted(ids)  # all delivered, none twice


def test_expired_lease_is_taken_over_and_the_old_worker_cannot_finish(store):
    enqueue_deliveries(store, ["k1"])
    with store.transaction() as conn:
        (row,) = outbox.claim(conn, "dead-worker", 10, timedelta(seconds=-1))
    (taken,) = _claim(store, "w2")
    assert taken["id"] == row["id"]
    with store.transaction() as conn:
        assert outbox.mark_all_sent(conn, [row["id"]], "dead-worker") == set()
        assert outbox.mark_all_sent(conn, [row["id"]], "w2") == {row["id"]}


def test_dead_letter_and_replay(store):
    enqueue_deliveries(store, ["k1", "k1"])
    (row,) = _claim(store, "w1")
    with store.transaction() as conn:
        assert outbox.dead_letter(conn, row, "w1", "peer refused")
    # The next row of the queue is no longer held up by the dead one.
    (nxt,) = _claim(store, "w1")
    assert nxt["id"] != row["id"]
    with store.transaction() as conn:
        replayed = outbox.replay(conn)
    assert len(replayed) == 1
    with store.transaction() as conn:
        assert outbox.replay(conn) == []  # replayed once only
    again = _claim(store, "w3")
    assert [r["id"] for r in again] == [row["id"]]


class _Accepting:
    """A channel that takes every row at once: the relay's bookkeeping under test."""

    name = "kafka"
    lease = LEASE
    batch = 100
    workers = 1

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def deliver(self, rows: list[dict]) -> list[Outcome]:
        self.batches.append([r["delivery_id"] for r in rows])
        return [Outcome(r, True, {"partition": 0, "offset": 0}) for r in rows]

    def close(self) -> None:
        pass


def test_recording_a_batch_claims_the_next_queue_heads_in_the_same_transaction(store):
    ids = enqueue_deliveries(store, ["k1", "k1", "k1"])
    relay = Relay(store, [channel := _Accepting()])
    transactions = 0
    original = store.transaction

    def counted():
        nonlocal transactions
        transactions += 1
        return original()

    store.transaction = counted  # type: ignore[method-assign]
    rows = relay._claim(channel, "w1")
    while rows:
        rows = relay._record(channel.deliver(rows), "w1", claim_next=channel)
    # One subject: one row at a time, in order, each batch recorded with the next claim.
    assert channel.batches == [[ids[0]], [ids[1]], [ids[2]]]
    assert transactions == 1 + 3
    assert relay.delivered == 3
    with store.transaction() as conn:
        assert outbox.pending_count(conn) == 0


def test_rows_claimed_for_a_batch_never_sent_are_handed_back(store):
    enqueue_deliveries(store, ["k1", "k2"])
    relay = Relay(store, [channel := _Accepting()])
    rows = relay._claim(channel, "stopping-worker")
    assert len(rows) == 2 and _claim(store, "w2") == []
    relay._unclaim(rows, "stopping-worker")
    again = _claim(store, "w2")  # at once: no lease to wait out
    assert sorted(r["id"] for r in again) == sorted(r["id"] for r in rows)
    assert [r["attempts"] for r in again] == [1, 1]  # the unsent claim did not count


def test_an_idle_relay_notices_rows_another_process_committed(store):
    """No nudge crosses processes (``serve --workers``): a cheap read finds the rows
    long before the poll interval ends."""
    relay = Relay(store, [channel := _Accepting()], poll_seconds=30, peek_seconds=0.02)
    relay.start()
    try:
        time.sleep(0.3)  # idle now, waiting for work
        (delivery_id,) = enqueue_deliveries(store, ["k1"])  # committed without relay.nudge()
        deadline = time.monotonic() + 5
        while relay.delivered < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert relay.delivered == 1, "the row waited for the 30 s poll"
        assert channel.batches == [[delivery_id]]
    finally:
        relay.stop()


def test_rows_waiting_out_a_retry_delay_are_not_ready(store):
    enqueue_deliveries(store, ["k1"])
    (row,) = _claim(store, "w1")
    with store.transaction() as conn:
        outbox.release(conn, row["id"], "w1", "broker down", timedelta(minutes=5))
    with store.engine.connect() as conn:
        assert not outbox.has_ready(conn, "kafka")
    enqueue_deliveries(store, ["k2"])
    with store.engine.connect() as conn:
        assert outbox.has_ready(conn, "kafka")


@pytest.mark.internals
def test_a_claim_reads_its_batch_off_the_pending_queue_index(store):
    """A claim takes its order from ix_outbox_queue (pending rows only, most urgent then
    oldest first) rather than sorting the whole backlog; the subject check uses the
    pending-only subject index. Binding 'pending' as a parameter would lose both."""
    compiled = outbox._TAKE.compile(dialect=store.engine.dialect)
    params = {
        **compiled.params,
        "of_channel": "kafka",
        "moment": datetime.now(UTC),
        "limit": 200,
        "worker": "w1",
        "until": datetime.now(UTC),
    }
    with store.engine.connect() as conn:
        if store.dialect == "sqlite":
            ordered = tuple(params[name] for name in compiled.positiontup)
            plan = " | ".join(
                row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", ordered)
            )
            assert "TEMP B-TREE" not in plan
        else:
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = " | ".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {compiled}", params))
            assert "Sort" not in plan
    assert "ix_outbox_queue" in plan and "ix_outbox_subject_queue" in plan, plan


@pytest.mark.internals
def test_marking_a_batch_sent_goes_by_primary_key(store):
    """Marking sent finds its rows by id. PostgreSQL once served it from a pending-only
    queue index whose first column is not the id, reading that whole index per id."""
    enqueue_deliveries(store, ["k1", "k2"])
    ids = [r["id"] for r in _claim(store, "w1")]
    executed: list[tuple[str, object]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _many) -> None:
        if statement.lstrip().startswith("UPDATE outbox SET status"):
            executed.append((statement, parameters))

    sa.event.listen(store.engine, "before_cursor_execute", capture)
    try:
        with store.transaction() as conn:
            assert outbox.mark_all_sent(conn, ids, "w1") == set(ids)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", capture)
    ((statement, parameters),) = executed
    explain = "EXPLAIN QUERY PLAN" if store.dialect == "sqlite" else "EXPLAIN"
    with store.engine.connect() as conn:
        if store.dialect == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")  # a tiny table is read whole
        rows = conn.exec_driver_sql(f"{explain} {statement}", parameters)
        plan = " | ".join(str(row[-1]) for row in rows)
    assert "ix_outbox_queue" not in plan and "ix_outbox_subject_queue" not in plan
    assert ("outbox_pkey" if store.dialect == "postgresql" else "PRIMARY KEY") in plan, plan


class _SlowPeers(_Accepting):
    name = "webhook"
    workers = 2


def _threads_per_channel(relay: Relay) -> dict[str, int]:
    relay.start()
    try:
        counts: dict[str, int] = {}
        for thread in relay._threads:
            if thread.name.endswith(":urgent"):
                continue  # each channel's urgent lane, counted apart
            channel = thread.name.split(":")[-2]
            counts[channel] = counts.get(channel, 0) + 1
        return counts
    finally:
        relay.stop()


def test_each_channel_runs_its_own_number_of_workers_unless_told(store):
    """Kafka publishes with one worker (bigger batches); webhooks keep two, so a peer
    being retried does not hold up every other endpoint. A configured number wins."""
    assert _threads_per_channel(Relay(store, [_Accepting(), _SlowPeers()])) == {
        "kafka": 1,
        "webhook": 2,
    }
    assert _threads_per_channel(Relay(store, [_Accepting(), _SlowPeers()], workers=3)) == {
        "kafka": 3,
        "webhook": 3,
    }
    assert KafkaChannel.workers == 1 and WebhookChannel.workers == 2
    relay = Relay(store, [_Accepting(), _SlowPeers()])
    relay.start()
    relay.stop()
    assert sorted(t.name.split(":")[-2] for t in relay._threads if t.name.endswith(":urgent")) == [
        "kafka",
        "webhook",
    ]
