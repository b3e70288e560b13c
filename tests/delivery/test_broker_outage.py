"""The broker is stopped for a while in the middle of a run of exchanges.

The test broker keeps messages in memory only, so its restart also loses what
it held: the relay must recreate the topics and re-feed from the store. After
it returns, a consumer sees every permitted delivery; after dropping
duplicates by delivery id, each exactly once.
"""

from __future__ import annotations

import json
import os
import time

import pytest
import sqlalchemy as sa

from gateway.delivery.reader import read_topic
from gateway.embedded.broker import EmbeddedBroker
from tests.conftest import STORES, start_gateway

OUTAGE_SECONDS = float(os.environ.get("ISG_FAULT_OUTAGE_SECONDS", "30"))
PARTNER = {"Content-Type": "application/json"}
RECIPIENT = "probation-spoc-north"


def _post_many(client, sample: bytes, start: int, count: int) -> list[str]:
    ids = []
    for n in range(start, start + count):
        record = json.loads(sample)
        record["persons"][0]["pnc_id"] = f"12/{n:06d}A"
        response = client.post("/v1/inbound/police", content=json.dumps(record), headers=PARTNER)
        assert response.status_code == 202, response.text
        ids.append(response.json()["exchange_id"])
    return ids


@pytest.mark.faults
@pytest.mark.parametrize("kind", STORES)
def test_broker_outage_loses_nothing(kind, store_url_factory, tmp_path, police_sample):
    own_broker = EmbeddedBroker().start()
    port = own_broker.port
    url = store_url_factory(kind)
    gateway, server, thread = start_gateway(kind, url, own_broker.bootstrap, tmp_path)
    try:
        with gateway.client() as client:
            before = _post_many(client, police_sample, 0, 10)
            gateway.wait_drained()

            own_broker.stop()
            during = _post_many(client, police_sample, 10, 10)  # the store still takes them
            ready = client.get("/readyz")  # still in its Service: the outbox keeps them
            assert ready.status_code == 200
            assert ready.json()["status"] == "degraded"
            time.sleep(OUTAGE_SECONDS)
            own_broker = EmbeddedBroker(port=port).start()

            gateway.wait_drained(timeout=90)
            assert client.get("/readyz").status_code == 200

        with gateway.store.engine.connect() as conn:
            expected = {
                r.delivery_id: r.exchange_id
                for r in conn.execute(
                    sa.text(
                        "SELECT delivery_id, exchange_id FROM outbox"
                        " WHERE channel = 'kafka' AND recipient = :r"
                    ),
                    {"r": RECIPIENT},
                )
            }
        assert set(expected.values()) == set(before + during)
        seen = read_topic(
            own_broker.bootstrap, gateway.topic(RECIPIENT), expect=len(expected), timeout=30
        )
        delivered = [m["headers"]["delivery-id"] for m in seen]
        assert set(delivered) == set(expected)  # every permitted delivery, after dedupe
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        gateway.runtime.stop()
        own_broker.stop()
