"""Retention: sent copies and old Idempotency-Keys are erased when their time is up,
nothing else is, and every erasure is in the audit trail."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from gateway.api import idempotency
from gateway.audit.verify import verify_engine
from gateway.cli import app as cli
from gateway.runtime import Runtime
from gateway.settings import RetentionPolicy, Settings
from gateway.store import Store, retention
from gateway.store.retention import erase_expired
from gateway.store.tables import dead_letters, idempotency_keys
from gateway.store.tables import outbox as outbox_table
from tests.conftest import TEST_KEY, enqueue_deliveries

WEEK = RetentionPolicy(sent_copies=timedelta(days=7), idempotency_keys=timedelta(days=7))
NOW = datetime.now(UTC)
LONG_AGO = NOW - timedelta(days=30)


@pytest.fixture
def store(fresh_store: Store) -> Store:
    return fresh_store


def _copies(store: Store, count: int, status: str, created: datetime) -> list[str]:
    """``count`` outbox rows of one exchange, created at ``created`` and in ``status``
    (a sent row was sent a minute after it was created)."""
    delivery_ids = enqueue_deliveries(store, [f"k{i}" for i in range(count)])
    with store.transaction() as conn:
        conn.execute(
            outbox_table.update()
            .where(outbox_table.c.delivery_id.in_(delivery_ids))
            .values(
                status=status,
                created_at=created,
                sent_at=created + timedelta(minutes=1) if status == "sent" else None,
            )
        )
    return delivery_ids


def _dead_letter(store: Store, delivery_id: str, replayed: bool) -> None:
    with store.transaction() as conn:
        row = (
            conn.execute(sa.select(outbox_table).where(outbox_table.c.delivery_id == delivery_id))
            .mappings()
            .one()
        )
        conn.execute(
            dead_letters.insert().values(
                outbox_id=row["id"],
                delivery_id=delivery_id,
                exchange_id=row["exchange_id"],
                recipient="r",
                channel="kafka",
                destination="topic",
                attempts=3,
                reason="peer down",
                dead_at=LONG_AGO,
                replayed_at=LONG_AGO if replayed else None,
            )
        )


def _remaining(store: Store) -> set[str]:
    with store.engine.connect() as conn:
        return set(conn.execute(sa.select(outbox_table.c.delivery_id)).scalars())


def _erasures(store: Store) -> list[dict]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT actor, details FROM audit_log WHERE action = 'erasure' ORDER BY seq")
        ).all()
    return [{"actor": actor, **json.loads(details)} for actor, details in rows]


def test_only_sent_copies_past_retention_are_erased(store):
    expired = _copies(store, 3, "sent", LONG_AGO)
    recent = _copies(store, 2, "sent", NOW - timedelta(days=1))
    old_pending = _copies(store, 1, "pending", LONG_AGO)
    old_dead = _copies(store, 1, "dead", LONG_AGO)
    _dead_letter(store, old_dead[0], replayed=False)
    # Replayed and then sent: the dead-letter row still refers to it.
    replayed = _copies(store, 1, "sent", LONG_AGO)
    _dead_letter(store, replayed[0], replayed=True)

    erased = erase_expired(store, WEEK)

    assert erased.sent_copies == 3
    assert _remaining(store) == {*recent, *old_pending, *old_dead, *replayed}
    [entry] = _erasures(store)
    assert entry["table"] == "outbox"
    assert entry["rows"] == 3
    assert sorted(entry["delivery_ids"]) == sorted(expired)
    assert verify_engine(store.engine).ok
    assert erase_expired(store, WEEK).sent_copies == 0  # nothing left to erase
    assert len(_erasures(store)) == 1  # and nothing more audited


def test_erasure_goes_in_batches_each_audited(store):
    expired = _copies(store, 5, "sent", LONG_AGO)
    recent = _copies(store, 3, "sent", NOW - timedelta(hours=1))

    erased = erase_expired(store, WEEK, batch=2)

    assert erased.sent_copies == 5
    assert _remaining(store) == set(recent)
    entries = _erasures(store)
    assert [e["rows"] for e in entries] == [2, 2, 1]
    assert sorted(d for e in entries for d in e["delivery_ids"]) == sorted(expired)
    assert verify_engine(store.engine).ok


def test_a_dry_run_counts_and_erases_nothing(store):
    _copies(store, 4, "sent", LONG_AGO)
    before = _remaining(store)
    _key(store, "old", LONG_AGO)

    erased = erase_expired(store, WEEK, dry_run=True, batch=3)

    assert (erased.sent_copies, erased.idempotency_keys) == (4, 1)
    assert _remaining(store) == before
    assert _erasures(store) == []


def _key(store: Store, key: str, created: datetime) -> None:
    assert idempotency.claim(store, "cheshire-police", key, "hash-" + key) is None
    with store.transaction() as conn:
        idempotency.record_answer(conn, "cheshire-police", key, 202, {"exchange_id": key})
        conn.execute(
            idempotency_keys.update()
            .where(idempotency_keys.c.key == key)
            .values(created_at=created)
        )


def test_old_idempotency_keys_are_erased_and_then_start_a_new_submission(store):
    _key(store, "old", LONG_AGO)
    _key(store, "new", NOW - timedelta(hours=1))
    # Before erasure, a retry with the old key gets its original answer.
    answer = idempotency.claim(store, "cheshire-police", "old", "hash-old")
    assert answer is not None and answer.body == {"exchange_id": "old"}

    erased = erase_expired(store, WEEK, actor="operator:test")

    assert erased.idempotency_keys == 1
    assert idempotency.claim(store, "cheshire-police", "old", "hash-old") is None  # new
    answer = idempotency.claim(store, "cheshire-police", "new", "hash-new")
    assert answer is not None  # still kept
    [entry] = _erasures(store)
    assert entry == {
        "actor": "operator:test",
        "table": "idempotency_keys",
        "rows": 1,
        "reason": "retention period ended",
        "created_before": entry["created_before"],
    }
    assert verify_engine(store.engine).ok


def test_the_background_pass_erases_until_stopped(store, monkeypatch):
    monkeypatch.setattr(retention, "FIRST_PASS_SECONDS", 0.05)
    stop = threading.Event()
    worker = threading.Thread(target=retention.keep_erasing, args=(store, lambda: WEEK, stop, 0.05))
    worker.start()
    try:
        _copies(store, 2, "sent", LONG_AGO)
        deadline = time.monotonic() + 10
        while _remaining(store) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _remaining(store) == set()
    finally:
        stop.set()
        worker.join(timeout=10)
    assert not worker.is_alive()


def test_prune_command(store, monkeypatch):
    url = store.engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", url)
    _copies(store, 2, "sent", LONG_AGO)

    dry = CliRunner().invoke(cli, ["db", "prune", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would erase 2 sent copies older than 7 days" in dry.output
    assert len(_remaining(store)) == 2

    monkeypatch.setenv("GATEWAY_OUTBOX_RETENTION_DAYS", "40")  # 30 days old: kept
    kept = CliRunner().invoke(cli, ["db", "prune"])
    assert "erased 0 sent copies older than 40 days" in kept.output
    monkeypatch.setenv("GATEWAY_OUTBOX_RETENTION_DAYS", "7")
    done = CliRunner().invoke(cli, ["db", "prune"])
    assert done.exit_code == 0, done.output
    assert "erased 2 sent copies" in done.output
    assert _remaining(store) == set()
    assert _erasures(store)[0]["actor"].startswith("operator:")

    monkeypatch.setenv("GATEWAY_OUTBOX_RETENTION_DAYS", "-1")
    bad = CliRunner().invoke(cli, ["db", "prune"])
    assert bad.exit_code == 2
    assert "invalid settings" in bad.output
    assert "Traceback" not in bad.output


def test_a_running_relay_erases_on_its_own_and_refeeds_only_what_it_keeps(
    tmp_path, broker, monkeypatch
):
    monkeypatch.setattr(retention, "FIRST_PASS_SECONDS", 0.05)
    settings = Settings(
        data_dir=tmp_path,
        kafka_bootstrap=broker.bootstrap,
        pseudonym_key=TEST_KEY,
        outbox_retention_days=2,
        retention_check_seconds=0.1,
    )
    runtime = Runtime(settings).start()
    try:
        assert runtime.relay.refeed_window == timedelta(days=2)
        expired = _copies(runtime.store, 1, "sent", NOW - timedelta(days=3))
        kept = _copies(runtime.store, 1, "sent", NOW - timedelta(days=1))
        deadline = time.monotonic() + 10
        while expired[0] in _remaining(runtime.store) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _remaining(runtime.store) == set(kept)
        assert _erasures(runtime.store)[0]["actor"] == "gateway"
    finally:
        runtime.stop()
