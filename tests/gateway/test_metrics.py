"""``/metrics``: the relay's counters, and the outbox's backlog as the store has it."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import STORES, start_gateway

PARTNER = {"Content-Type": "application/json"}


def _pending(text: str) -> float | None:
    for family in text_string_to_metric_families(text):
        if family.name == "isg_outbox_pending":
            (sample,) = family.samples
            return sample.value
    return None


@pytest.mark.parametrize("kind", STORES)
def test_the_outbox_backlog_is_a_gauge(kind, broker, store_url_factory, tmp_path, police_sample):
    gateway, server, thread = start_gateway(
        kind, store_url_factory(kind), broker.bootstrap, tmp_path / "d"
    )
    try:
        with gateway.client() as client:
            assert _pending(client.get("/metrics").text) == 0
            gateway.runtime.relay.stop()  # nothing leaves the outbox now
            answer = client.post("/v1/inbound/police", content=police_sample, headers=PARTNER)
            assert answer.status_code == 202
            permitted = [d for d in answer.json()["decisions"] if d["effect"] == "permit"]
            metrics = client.get("/metrics")
            assert metrics.status_code == 200
            assert "# TYPE isg_outbox_pending gauge" in metrics.text
            assert _pending(metrics.text) == len(permitted) > 0
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        gateway.runtime.stop()
