"""The store is unavailable: the API answers 503 problem+json and keeps nothing it cannot keep."""

from __future__ import annotations

import json
import sqlite3
import threading
import time

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import start_gateway
from tests.tcp_proxy import TcpProxy

PARTNER = {"Content-Type": "application/json"}


@pytest.mark.faults
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


@pytest.mark.faults
def test_sqlite_held_by_another_program_is_a_503_and_the_api_keeps_answering(
    broker, tmp_path, police_sample
):
    """A program holding SQLite's write lock (here the sqlite3 module, as the shell
    would) must neither freeze the event loop nor keep requests forever: within
    GATEWAY_STORE_BUSY_SECONDS the answer is 503 and nothing is kept; once the lock
    is free, submissions go through again."""
    database = tmp_path / "gateway.db"
    gateway, server, thread = start_gateway(
        "sqlite", f"sqlite:///{database}", broker.bootstrap, tmp_path, store_busy_seconds=1.0
    )
    holder = sqlite3.connect(database, isolation_level=None)
    try:
        with gateway.client() as client:
            before = gateway.count_rows()
            holder.execute("BEGIN IMMEDIATE")
            answers: dict[str, httpx.Response] = {}
            posting = threading.Thread(
                target=lambda: answers.update(
                    post=client.post("/v1/inbound/police", content=police_sample, headers=PARTNER)
                )
            )
            started = time.monotonic()
            posting.start()
            time.sleep(0.3)
            health = client.get("/healthz")  # the loop still answers meanwhile
            assert health.status_code == 200 and time.monotonic() - started < 0.9
            posting.join(timeout=15)
            response = answers["post"]
            assert response.status_code == 503
            assert response.headers["content-type"].startswith("application/problem+json")
            assert 1.0 <= time.monotonic() - started < 10

            holder.execute("ROLLBACK")
            assert gateway.count_rows() == before
            again = client.post("/v1/inbound/police", content=police_sample, headers=PARTNER)
            assert again.status_code == 202
    finally:
        holder.close()
        server.should_exit = True
        thread.join(timeout=10)
        gateway.runtime.stop()
