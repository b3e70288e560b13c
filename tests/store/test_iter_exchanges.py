"""Reading every recorded exchange (``gateway policy replay``): in order, each once,
a page per short transaction, however slowly the reader goes."""

from __future__ import annotations

import json
import time

from gateway.policy import load_bundle
from gateway.store import Store, db
from tests.conftest import ROOT, recording_pipeline

SAMPLE = ROOT / "examples/police/stalking-crime.json"


def _record(store: Store, count: int) -> list[str]:
    """``count`` exchanges submitted through the pipeline; their ids, in order."""
    pipeline = recording_pipeline(store, load_bundle(ROOT / "policies" / "cheshire-hru"))
    template = json.loads(SAMPLE.read_text())
    ids = []
    for n in range(count):
        template["occurrence"]["number"] = f"CC-PAGE-{n}"
        body = json.dumps(template).encode()
        submission = pipeline.submit("police", body, "application/json", "cheshire-police")
        ids.append(submission.items[0].exchange_id)
    return ids


def test_every_exchange_once_in_order_across_pages(fresh_store, monkeypatch):
    ids = _record(fresh_store, 7)
    monkeypatch.setattr(db, "EXCHANGES_PER_PAGE", 3)
    read = [str(exchange.exchange_id) for exchange, _ in fresh_store.iter_exchanges()]
    assert read == ids
    decisions = [d for _, records in fresh_store.iter_exchanges() for d in records]
    others = len(load_bundle(ROOT / "policies" / "cheshire-hru").parties) - 1
    assert len(decisions) == 7 * others  # every party but the sender decided for each


def test_a_slow_reader_outlasts_the_servers_idle_transaction_limit(postgres, monkeypatch):
    """Read in one transaction, the store would be held idle inside it while the
    reader dawdles, and the server would end the session (an error at the end)."""
    monkeypatch.setattr(db, "IDLE_IN_TRANSACTION_MS", 300)
    monkeypatch.setattr(db, "EXCHANGES_PER_PAGE", 2)
    store = Store.from_url(postgres.new())
    store.upgrade()
    try:
        ids = _record(store, 4)
        read = []
        for exchange, _ in store.iter_exchanges():
            time.sleep(0.25)  # four of these: a second in all, past the 0.3 s limit
            read.append(str(exchange.exchange_id))
        assert read == ids
    finally:
        store.engine.dispose()
