"""Group commit: concurrent exchanges share transactions, each is kept whole or not
at all, and one bad exchange cannot fail its neighbours."""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
import uuid

import pytest
import sqlalchemy as sa

from gateway.audit import AuditEntry
from gateway.audit.verify import verify_engine
from gateway.delivery.outbox import OutboxMessage, outbox_rows
from gateway.errors import ServiceUnavailable
from gateway.store import Store
from gateway.store.commit import PendingCommit, write_group
from gateway.store.group_commit import GroupCommitter
from tests.conftest import exchange_row


@pytest.fixture
def store(fresh_store: Store) -> Store:
    return fresh_store


def _pending(exchange_id: str) -> PendingCommit:
    return PendingCommit(
        exchange={
            **exchange_row(exchange_id),
            # serialised already, as pending_commit leaves them
            "envelope": "{}",
            "decisions": '[{"recipient": "r", "effect": "deny"}]',
        },
        outbox=[],
        entries=[AuditEntry(action="collection", actor="p", exchange_id=exchange_id, details={})],
    )


def _count_transactions(store: Store) -> list[int]:
    """Count the transactions ``store`` starts from now on (in the list's one item)."""
    started = [0]
    original = store.transaction

    def counted(**kwargs):
        started[0] += 1
        return original(**kwargs)

    store.transaction = counted  # type: ignore[method-assign]
    return started


def _count(store: Store, table: str) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one()


def test_concurrent_commits_are_all_kept_and_the_chain_verifies(store):
    committer = GroupCommitter(store)
    ids = [str(uuid.uuid4()) for _ in range(60)]
    threads = [threading.Thread(target=committer.commit, args=(_pending(i),)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    committer.stop()
    assert _count(store, "exchanges") == 60
    decided = [store.get_exchange(i)["decisions"] for i in ids]
    assert decided == [[{"recipient": "r", "effect": "deny"}]] * 60
    report = verify_engine(store.engine)
    assert report.ok and report.entries == 60


def test_a_bad_exchange_fails_alone(store):
    committer = GroupCommitter(store)
    good, duplicate = str(uuid.uuid4()), str(uuid.uuid4())
    committer.commit(_pending(duplicate))
    outcomes: dict[str, Exception | None] = {}

    def commit(key: str, pending: PendingCommit) -> None:
        try:
            committer.commit(pending)
            outcomes[key] = None
        except Exception as exc:  # recorded for the assertion
            outcomes[key] = exc

    threads = [
        threading.Thread(target=commit, args=("again", _pending(duplicate))),
        threading.Thread(target=commit, args=("good", _pending(good))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    committer.stop()
    assert outcomes["good"] is None
    assert isinstance(outcomes["again"], sa.exc.IntegrityError)
    assert _count(store, "exchanges") == 2
    assert verify_engine(store.engine).entries == 2  # nothing of the failed one was kept


def test_an_unreachable_store_fails_the_whole_group_in_one_attempt(tmp_path):
    """Retried member by member, each exchange of the group would wait out its own
    connection timeout (5 s each against a database behind a dropped network)."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = Store.from_url(f"postgresql+psycopg://gateway@127.0.0.1:{port}/gateway")
    committer = GroupCommitter(store)
    attempts = _count_transactions(store)

    failures = asyncio.run(committer.write_async([_pending(str(uuid.uuid4())) for _ in range(5)]))
    committer.stop()
    assert attempts == [1]
    assert all(isinstance(f, ServiceUnavailable) for f in failures)


@pytest.mark.internals
def test_on_postgresql_a_group_waits_for_the_server_four_times(postgres, tmp_path):
    """BEGIN, the rows and the audit head's lock, the entries and the head's move,
    COMMIT: however many exchanges, outbox rows and entries the group holds (it
    was ten round trips, the head locked across four of them)."""
    store = Store.from_url(postgres.new())
    store.upgrade()
    group = []
    for _ in range(10):
        pending = _pending(str(uuid.uuid4()))
        pending.outbox = outbox_rows(
            [
                OutboxMessage(
                    str(uuid.uuid4()),
                    pending.exchange["exchange_id"],
                    r,
                    "kafka",
                    f"topic-{r}",
                    "k",
                    "{}",
                    {"h": "v"},
                )
                for r in ("a", "b")
            ]
        )
        group.append(pending)
    trace_file = tmp_path / "libpq.trace"

    with trace_file.open("w") as trace:

        @sa.event.listens_for(store.engine, "begin")
        def _trace(conn) -> None:
            conn.connection.driver_connection.pgconn.trace(trace.fileno())

        write_group(store, group)
        sa.event.remove(store.engine, "begin", _trace)
        store.engine.dispose()  # closing the connection ends the trace
    # A round trip is where the conversation turns from the client to the server.
    fields = [line.split("\t") for line in trace_file.read_text().splitlines()]
    senders = [f[1] for f in fields if len(f) > 3 and f[1] in ("F", "B")]
    round_trips = sum(1 for pair in itertools.pairwise(senders) if pair == ("F", "B"))
    assert round_trips == 4
    assert _count(store, "exchanges") == 10 and _count(store, "outbox") == 20
    assert verify_engine(store.engine).entries == 10
