"""PostgreSQL connections: one whose server went away while it waited in the pool is
replaced before a request sees it, one lost in use is a store outage, and one left
idle inside a transaction is ended by the server."""

from __future__ import annotations

import contextlib
import time

import pytest
import sqlalchemy as sa

from gateway.store import Store, db
from tests.conftest import exchange_row


def _count_pings(store: Store, monkeypatch) -> list[int]:
    pings: list[int] = []
    real_ping = store.engine.dialect.do_ping

    def counted(dbapi_conn):
        pings.append(1)
        return real_ping(dbapi_conn)

    monkeypatch.setattr(store.engine.dialect, "do_ping", counted)
    return pings


def _backend_pid(store: Store) -> int:
    with store.transaction() as conn:
        return conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()


def _terminate(admin: sa.Engine, pid: int) -> None:
    """End a server backend and wait until it is gone (termination is asynchronous).

    Each check runs in its own transaction: inside one, PostgreSQL answers
    pg_stat_activity from a snapshot taken at its first read, so a backend
    seen alive once would look alive until the deadline.
    """
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            alive = conn.execute(
                sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            ).scalar_one()
            if not alive:
                return
            time.sleep(0.02)
    raise AssertionError(f"backend {pid} did not end")


@pytest.mark.faults
def test_an_idle_connection_whose_server_side_died_is_replaced_unseen(postgres, monkeypatch):
    url = postgres.new()
    store = Store.from_url(url)
    admin = sa.create_engine(url)
    try:
        pings = _count_pings(store, monkeypatch)
        first = _backend_pid(store)
        _terminate(admin, first)
        # The dead connection is pinged, discarded, and a new one used: no error.
        second = _backend_pid(store)
        assert second != first
        assert len(pings) >= 1
    finally:
        store.engine.dispose()
        admin.dispose()


@pytest.mark.faults
@pytest.mark.parametrize("pipelined", [False, True], ids=["alone", "in-a-pipeline"])
def test_a_connection_lost_during_a_bulk_insert_is_a_store_outage_then_replaced(
    postgres, pipelined
):
    """PostgreSQL's bulk inserts and the audit append go to psycopg's connection, past
    SQLAlchemy's execute (in a group commit, inside a pipeline): a connection that
    dies under them must still surface as the store being unavailable (a 503
    upstream, nothing kept) and leave the pool able to serve the next transaction."""
    from gateway.audit import AuditEntry
    from gateway.errors import ServiceUnavailable
    from gateway.store.audit_log import append
    from gateway.store.postgres import shared_round_trips
    from gateway.store.tables import exchanges, insert_rows, insert_serialised

    url = postgres.new()
    store = Store.from_url(url)
    store.upgrade()
    admin = sa.create_engine(url)
    exchange_id = "00000000-0000-7000-8000-000000000001"
    row = {**exchange_row(exchange_id), "envelope": "{}", "decisions": "[]"}
    insert = insert_serialised(exchanges, "envelope", "decisions")

    def write(conn) -> None:
        with shared_round_trips(conn) if pipelined else contextlib.nullcontext():
            insert_rows(conn, insert, [row])
            append(conn, [AuditEntry("collection", "p", {}, exchange_id=exchange_id)])

    try:
        with pytest.raises(ServiceUnavailable), store.transaction() as conn:
            pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
            _terminate(admin, pid)
            write(conn)
        with store.transaction() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM exchanges")).scalar_one() == 0
            write(conn)
        with store.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM exchanges")).scalar_one() == 1
            assert conn.execute(sa.text("SELECT count(*) FROM audit_log")).scalar_one() == 1
    finally:
        store.engine.dispose()
        admin.dispose()


@pytest.mark.faults
def test_a_session_left_idle_inside_a_transaction_is_ended_by_the_server(postgres, monkeypatch):
    """A gateway thread that hangs mid-transaction must not hold PostgreSQL's cleanup
    horizon (and the outbox's claims) back for ever: the server ends the session,
    the transaction fails as the store being unavailable, and the pool goes on."""
    from gateway.errors import ServiceUnavailable

    monkeypatch.setattr(db, "IDLE_IN_TRANSACTION_MS", 200)
    store = Store.from_url(postgres.new())
    try:
        with pytest.raises(ServiceUnavailable), store.transaction() as conn:
            conn.execute(sa.text("SELECT 1"))
            time.sleep(1.0)  # idle in the transaction, past the timeout
            conn.execute(sa.text("SELECT 1"))
        with store.transaction() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
    finally:
        store.engine.dispose()
