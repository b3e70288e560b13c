"""Concurrent writers extend one chain, from the very first entry (a fresh store)."""

from __future__ import annotations

import threading

import pytest

from gateway.audit import AuditEntry
from gateway.audit.verify import verify_engine
from gateway.store import Store
from gateway.store.audit_log import append
from tests.conftest import STORES

WRITERS, EACH = 6, 10


@pytest.mark.parametrize("kind", STORES)
def test_concurrent_first_appends_make_one_valid_chain(kind, store_url_factory):
    store = Store.from_url(store_url_factory(kind))
    store.upgrade()
    barrier = threading.Barrier(WRITERS)
    errors: list[Exception] = []

    def write(n: int) -> None:
        barrier.wait()
        try:
            for i in range(EACH):
                with store.transaction() as conn:
                    append(conn, [AuditEntry(action="collection", actor=f"w{n}", details={"i": i})])
        except Exception as exc:  # collected: the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    report = verify_engine(store.engine)
    assert report.ok and report.entries == WRITERS * EACH
    store.engine.dispose()
