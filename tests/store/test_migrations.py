"""Migrations: `gateway db upgrade` brings a store to head; a store that is behind is refused."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from typer.testing import CliRunner

from gateway.cli import app
from gateway.delivery import outbox
from gateway.delivery.outbox import OutboxMessage
from gateway.errors import StoreBehind
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.store import Store
from gateway.store.tables import exchanges, metadata
from tests.conftest import STORES, TEST_KEY, exchange_row


@pytest.mark.parametrize("kind", STORES)
def test_db_upgrade_creates_every_table(kind, store_url_factory, monkeypatch):
    url = store_url_factory(kind)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", url)
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    store = Store.from_url(url)
    assert f"store at migration {store.head_revision()}" in result.output
    tables = set(sa.inspect(store.engine).get_table_names())
    assert set(metadata.tables) <= tables
    again = CliRunner().invoke(app, ["db", "upgrade"])  # idempotent
    assert again.exit_code == 0
    store.engine.dispose()


@pytest.mark.parametrize("kind", STORES)
def test_gateway_refuses_a_store_that_is_behind(kind, store_url_factory, broker, tmp_path):
    url = store_url_factory(kind)
    store = Store.from_url(url)
    with store.engine.begin() as conn:
        command.upgrade(store._alembic_config(conn), "0001")
    settings = Settings(
        data_dir=tmp_path,
        database_url=url,
        kafka_bootstrap=broker.bootstrap,
        pseudonym_key=TEST_KEY,
    )
    runtime = Runtime(settings)
    with pytest.raises(StoreBehind, match="gateway db upgrade"):
        runtime.start()
    runtime.stop()
    store.engine.dispose()


def test_embedded_default_migrates_itself(tmp_path, broker):
    """No database configured: the SQLite store in the data dir is created and migrated."""
    settings = Settings(data_dir=tmp_path, kafka_bootstrap=broker.bootstrap, pseudonym_key=TEST_KEY)
    runtime = Runtime(settings).start()
    try:
        assert runtime.store.revision() == runtime.store.head_revision()
        assert (tmp_path / "gateway.db").exists()
    finally:
        runtime.stop()


@pytest.mark.parametrize("kind", STORES)
def test_decisions_move_onto_their_exchange_and_back(kind, store_url_factory):
    """Migration 0004 copies each exchange's decision rows, in decided order, into its
    ``decisions`` column; its downgrade puts the rows back."""
    store = Store.from_url(store_url_factory(kind))
    with store.engine.begin() as conn:
        command.upgrade(store._alembic_config(conn), "0003")
    exchange = {
        "source_partner": "cheshire-police",
        "format": "police",
        "category": "crime_record",
        "purpose": "stalking-risk-management",
        "urgency": "routine",
        "submitted_at": datetime(2026, 11, 1, tzinfo=UTC),
        "policy_version": "v1",
        "envelope": "{}",
    }
    records = [{"recipient": r, "effect": e} for r, e in (("b", "permit"), ("a", "deny"))]
    with store.engine.begin() as conn:
        for exchange_id in ("e1", "e2"):
            conn.execute(
                sa.text(
                    "INSERT INTO exchanges (exchange_id, source_partner, format, category,"
                    " purpose, urgency, submitted_at, policy_version, envelope) VALUES (:id,"
                    " :source_partner, :format, :category, :purpose, :urgency, :submitted_at,"
                    " :policy_version, :envelope)"
                ),
                {"id": exchange_id, **exchange},
            )
        conn.execute(
            sa.text(
                "INSERT INTO decisions (exchange_id, recipient, effect, record)"
                " VALUES ('e1', :recipient, :effect, :record)"
            ),
            [{**r, "record": json.dumps(r)} for r in records],
        )
    with store.engine.begin() as conn:
        command.upgrade(store._alembic_config(conn), "0004")
    # Read at this revision: the table declared today has columns added since (0012).
    decided = sa.select(sa.column("exchange_id"), sa.column("decisions", sa.JSON)).select_from(
        sa.table("exchanges")
    )
    with store.engine.connect() as conn:
        stored = dict(conn.execute(decided).all())
    assert stored["e1"] == records
    assert stored["e2"] == []
    assert "decisions" not in sa.inspect(store.engine).get_table_names()

    with store.engine.begin() as conn:
        command.downgrade(store._alembic_config(conn), "0003")
    with store.engine.connect() as conn:
        back = conn.execute(
            sa.text("SELECT exchange_id, recipient, effect FROM decisions ORDER BY id")
        ).all()
    assert [tuple(r) for r in back] == [("e1", "b", "permit"), ("e1", "a", "deny")]
    store.engine.dispose()


@pytest.mark.internals
def test_postgresql_compresses_the_large_columns_with_lz4(store_url_factory):
    store = Store.from_url(store_url_factory("postgresql"))
    store.upgrade()
    query = sa.text(
        "SELECT c.relname || '.' || a.attname, a.attcompression FROM pg_attribute a"
        " JOIN pg_class c ON c.oid = a.attrelid"
        " WHERE c.relname IN ('exchanges', 'outbox', 'audit_log') AND a.attcompression <> ''"
    )
    with store.engine.connect() as conn:
        methods = dict(conn.execute(query).all())
    assert methods == {
        "exchanges.envelope": "l",
        "exchanges.decisions": "l",
        "outbox.payload": "l",
        "outbox.headers": "l",
        "audit_log.details": "l",
    }
    with store.engine.begin() as conn:
        command.downgrade(store._alembic_config(conn), "0005")
    with store.engine.connect() as conn:
        assert set(dict(conn.execute(query).all()).values()) == {"p"}
    store.engine.dispose()


@pytest.mark.internals
def test_postgresql_claims_update_outbox_rows_in_place(store_url_factory):
    """Pages of the outbox are left half empty (fillfactor 50), so a claim's update
    fits beside the row it replaces: a heap-only update, with no new entry in the
    outbox's four indexes. Packed full by COPY, every claim moved its row."""
    store = Store.from_url(store_url_factory("postgresql"))
    store.upgrade()
    with store.transaction() as conn:
        exchange_id = str(uuid.uuid4())
        conn.execute(exchanges.insert().values(**exchange_row(exchange_id)))
        payload = json.dumps({"text": "x" * 1500})  # a rendered record's size
        messages = [
            OutboxMessage(str(uuid.uuid4()), exchange_id, "r", "kafka", "t", f"k{i}", payload, {})
            for i in range(40)
        ]
        outbox.enqueue(conn, outbox.outbox_rows(messages))
    with store.transaction() as conn:
        claimed = outbox.claim(conn, "w", 100, timedelta(seconds=30))
        in_place = conn.execute(
            sa.text("SELECT pg_stat_get_xact_tuples_hot_updated('outbox'::regclass)")
        ).scalar_one()
    assert len(claimed) == 40
    assert in_place == 40
    store.engine.dispose()


@pytest.mark.parametrize("kind", STORES)
def test_db_upgrade_warns_when_the_outbox_cannot_be_cleaned_up(
    kind, store_url_factory, monkeypatch
):
    """PostgreSQL without autovacuum lets the outbox's dead rows pile up: say so. The
    expectation follows this server's own setting, read on a connection of its own."""
    url = store_url_factory(kind)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", url)
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    store = Store.from_url(url)
    if kind == "postgresql":
        with store.engine.connect() as conn:
            autovacuum_on = conn.execute(sa.text("SHOW autovacuum")).scalar_one() == "on"
    else:
        autovacuum_on = True  # SQLite has nothing of the kind
    warned = "warning: PostgreSQL runs with autovacuum off" in result.output
    assert warned == (not autovacuum_on)
    assert bool(store.queue_table_warnings()) == (not autovacuum_on)
    store.engine.dispose()


#: Alembic cannot compare an index on an expression (``priority DESC``) read back from
#: SQLite: it reports it removed and added again, unchanged.
_UNCOMPARABLE_INDEXES = {"ix_outbox_queue"}


@pytest.mark.parametrize("kind", STORES)
def test_the_migrations_build_the_tables_the_code_declares(kind, store_url_factory):
    """A column or index added to ``tables.py`` without a migration (or the reverse)
    shows here, on both stores."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    store = Store.from_url(store_url_factory(kind))
    store.upgrade()
    with store.engine.connect() as conn:
        differences = [
            d
            for d in compare_metadata(MigrationContext.configure(conn), metadata)
            if not (d[0] in ("add_index", "remove_index") and d[1].name in _UNCOMPARABLE_INDEXES)
        ]
    store.engine.dispose()
    assert differences == []


def test_the_migrations_end_in_one_head():
    """Work on separate tables may branch from one revision meanwhile, but what lands
    joins them (a merge revision), so the next migration has a single parent."""
    from alembic.script import ScriptDirectory

    versions = Path(__file__).resolve().parents[2] / "gateway" / "store" / "migrations"
    assert len(ScriptDirectory(str(versions)).get_heads()) == 1
