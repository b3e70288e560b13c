"""Group commit: concurrent exchanges share transactions, each is kept whole or not
at all, and one bad exchange cannot fail its neighbours."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from gateway.audit import AuditEntry
from gateway.audit.verify import verify_engine
from gateway.pipeline.deliver import GroupCommitter, PendingCommit
from gateway.store import Store


@pytest.fixture
def store(fresh_store: Store) -> Store:
    return fresh_store


def _pending(exchange_id: str) -> PendingCommit:
    return PendingCommit(
        exchange=dict(
            exchange_id=exchange_id,
            source_partner="p",
            format="police",
            category="crime_record",
            purpose="x",
            urgency="routine",
            case_reference=None,
            submitted_at=datetime.now(UTC),
            policy_version="v",
            envelope="{}",
        ),
        decisions=[
            {"exchange_id": exchange_id, "recipient": "r", "effect": "deny", "record": "{}"}
        ],
        outbox=[],
        entries=[AuditEntry(action="collection", actor="p", exchange_id=exchange_id, details={})],
    )


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
    assert _count(store, "decisions") == 60
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
