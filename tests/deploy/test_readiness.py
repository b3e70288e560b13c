"""Readiness means "can accept and keep records", as the chart's probes rely on.

A broker outage leaves the API in its Service (``/readyz`` 200 ``degraded``; what
it accepts waits in the outbox, shown in the detail and the metrics); a store
outage takes it out (503). Liveness asks nothing of any other service.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from gateway.embedded.broker import EmbeddedBroker
from tests.conftest import start_gateway
from tests.tcp_proxy import TcpProxy

PARTNER = {"Content-Type": "application/json"}


def _gauge(exposition: str, name: str) -> float:
    """The value of an unlabelled gauge in Prometheus text."""
    values = [
        float(line.split()[1]) for line in exposition.splitlines() if line.startswith(name + " ")
    ]
    assert len(values) == 1, f"{name} not in /metrics"
    return values[0]


@pytest.mark.faults
def test_a_broker_outage_degrades_readiness_and_a_store_outage_fails_it(
    postgres, tmp_path, police_sample
):
    own_broker = EmbeddedBroker().start()
    direct_url = postgres.new()
    proxy = TcpProxy("127.0.0.1", 5432).start()
    url = (
        sa.make_url(direct_url)
        .set(host="127.0.0.1", port=proxy.port)
        .render_as_string(hide_password=False)
    )
    gateway, server, thread = start_gateway("postgresql", url, own_broker.bootstrap, tmp_path)
    try:
        with gateway.client() as client:
            ready = client.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["status"] == "ready"
            assert ready.json()["checks"] == {"store": "ok", "broker": "ok"}

            own_broker.stop()
            accepted = client.post("/v1/inbound/police", content=police_sample, headers=PARTNER)
            assert accepted.status_code == 202, accepted.text

            ready = client.get("/readyz")
            assert ready.status_code == 200, ready.text
            body = ready.json()
            assert body["status"] == "degraded"
            assert body["checks"] == {"store": "ok", "broker": "unavailable"}
            assert body["outbox"]["pending"] >= 1  # kept, waiting for the broker
            metrics = client.get("/metrics").text
            assert _gauge(metrics, "isg_outbox_pending") >= 1
            assert _gauge(metrics, "isg_broker_available") == 0
            assert client.get("/healthz").status_code == 200

            proxy.cut()
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["store"] == "unavailable"
            assert client.get("/healthz").status_code == 200  # liveness asks no one

            proxy.restore()
            own_broker = EmbeddedBroker(port=own_broker.port).start()
            gateway.wait_drained(timeout=60)
            ready = client.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["status"] == "ready"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        gateway.runtime.stop()
        own_broker.stop()
        proxy.cut()
