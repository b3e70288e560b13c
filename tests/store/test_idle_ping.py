"""PostgreSQL connections are checked before use only after sitting idle.

Every transaction paying a ping cost a round trip and CPU under load; a
connection whose server went away while it waited must still be replaced
before a request sees it.
"""

from __future__ import annotations

import sqlalchemy as sa

from gateway.store import Store, db


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


def test_a_connection_in_steady_use_is_not_pinged(postgres, monkeypatch):
    store = Store.from_url(postgres.new())
    try:
        pings = _count_pings(store, monkeypatch)
        monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 60.0)
        pids = {_backend_pid(store) for _ in range(5)}
        assert len(pids) == 1  # the same pooled connection each time
        assert pings == []
    finally:
        store.engine.dispose()


def test_an_idle_connection_whose_server_side_died_is_replaced_unseen(postgres, monkeypatch):
    url = postgres.new()
    store = Store.from_url(url)
    admin = sa.create_engine(url)
    try:
        pings = _count_pings(store, monkeypatch)
        first = _backend_pid(store)
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
        # The dead connection is pinged, discarded, and a new one used: no error.
        second = _backend_pid(store)
        assert second != first
        assert len(pings) >= 1
    finally:
        store.engine.dispose()
        admin.dispose()
