"""The store is unavailable: the API answers 503 problem+json and keeps nothing it cannot keep."""

from __future__ import annotations

import json

import sqlalchemy as sa

from tests.conftest import start_gateway
from tests.tcp_proxy import TcpProxy

PARTNER = {"X-Partner-Id": "cheshire-police", "Content-Type": "application/json"}


def test_postgres_outage_is_a_503_and_nothing_is_half_kept(
    broker, postgres, tmp_path, police_sample
):
    direct_url = postgres.new()
    proxy = TcpProxy("127.0.0.1", 5432).start()
    via_proxy = sa.make_url(direct_url).set(host="127.0.0.1", port=proxy.port)
    url = via_proxy.render_as_string(hide_password=False)
    gateway, server, thread = start_gateway("postgresql", url, broker.bootstrap, tmp_path)
    try:
        with gateway.client() as client:
            assert (
                client.post(
                    "/v1/inbound/police", content=police_sample, headers=PARTNER
                ).status_code
                == 202
            )
            gateway.wait_drained()
            before = gateway.count_rows()

            proxy.cut()
            marked = json.loads(police_sample)
            marked["occurrence"]["number"] = "CC-OUTAGE-0001"
            response = client.post(
                "/v1/inbound/police", content=json.dumps(marked), headers=PARTNER
            )
            assert response.status_code == 503
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["type"].endswith("/service-unavailable")
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["store"] == "unavailable"

            proxy.restore()
            assert gateway.count_rows() == before
            engine = sa.create_engine(direct_url)
            with engine.connect() as conn:
                kept = conn.execute(
                    sa.text(
                        "SELECT COUNT(*) FROM exchanges WHERE CAST(envelope AS TEXT)"
                        " LIKE '%CC-OUTAGE-0001%'"
                    )
                ).scalar_one()
            engine.dispose()
            assert kept == 0
            again = client.post("/v1/inbound/police", content=police_sample, headers=PARTNER)
            assert again.status_code == 202
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        gateway.runtime.stop()
        proxy.cut()
