"""The gateway process is killed with SIGKILL in the middle of a run.

After a restart, every exchange that got a 202 is delivered and audited
exactly once (deliveries deduplicated by delivery id, as consumers do), and
the audit chain verifies.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from gateway.audit.verify import verify_engine
from gateway.delivery.reader import read_topic
from gateway.store import Store
from tests.conftest import STORES, TEST_KEY, api_port
from tests.partner_clients import PARTNER_CLIENTS

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = Path(sys.executable).parent / "gateway"
PARTNER = {"Content-Type": "application/json"}
RECIPIENT = "probation-spoc-north"


def _start(env: dict[str, str], port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [str(GATEWAY), "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        assert process.poll() is None, "gateway exited during start"
        time.sleep(0.2)
    process.kill()
    raise AssertionError("gateway did not become ready")


@pytest.mark.faults
@pytest.mark.parametrize("kind", STORES)
def test_sigkill_mid_run_loses_and_duplicates_nothing(
    kind, broker, store_url_factory, tmp_path, police_sample
):
    url = store_url_factory(kind)
    Store.from_url(url).upgrade()
    prefix = f"k{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        GATEWAY_DATABASE_URL=url,
        GATEWAY_KAFKA_BOOTSTRAP=broker.bootstrap,
        GATEWAY_PSEUDONYM_KEY=TEST_KEY,
        GATEWAY_TOPIC_PREFIX=prefix,
        GATEWAY_DATA_DIR=str(tmp_path),
        GATEWAY_CLIENTS_FILE=str(PARTNER_CLIENTS.path),
        GATEWAY_RATE_LIMIT_PER_CLIENT="100000/second",
    )
    port = api_port()
    process = _start(env, port)
    accepted: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client_loop(worker: int) -> None:
        base = f"http://127.0.0.1:{port}"
        auth = PARTNER_CLIENTS.headers(base, "cheshire-police")
        with httpx.Client(base_url=base, timeout=10, headers=auth) as client:
            n = 0
            while not stop.is_set() and n < 200:
                record = json.loads(police_sample)
                record["persons"][0]["pnc_id"] = f"{worker:02d}/{n:06d}K"
                n += 1
                try:
                    response = client.post(
                        "/v1/inbound/police", content=json.dumps(record), headers=PARTNER
                    )
                except httpx.TransportError:
                    return  # the gateway died under us: no 202, no promise
                if response.status_code == 202:
                    with lock:
                        accepted.append(response.json()["exchange_id"])

    threads = [threading.Thread(target=client_loop, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(accepted) < 40 and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    stop.set()
    for t in threads:
        t.join(timeout=15)
    assert len(accepted) >= 40

    process = _start(env, port)
    try:
        store = Store.from_url(url)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with store.engine.connect() as conn:
                pending = conn.execute(
                    sa.text("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
                ).scalar_one()
            if pending == 0:
                break
            time.sleep(0.2)
        assert pending == 0

        with store.engine.connect() as conn:
            kept = set(conn.execute(sa.text("SELECT exchange_id FROM exchanges")).scalars())
            deliveries = dict(
                conn.execute(
                    sa.text("SELECT delivery_id, exchange_id FROM outbox WHERE recipient = :r"),
                    {"r": RECIPIENT},
                ).all()
            )
            collections = Counter(
                conn.execute(
                    sa.text("SELECT exchange_id FROM audit_log WHERE action = 'collection'")
                ).scalars()
            )
            transmissions = Counter(
                json.loads(d)["delivery_id"]
                for d in conn.execute(
                    sa.text("SELECT details FROM audit_log WHERE action = 'transmission'")
                ).scalars()
            )
        assert set(accepted) <= kept  # every 202 was kept
        assert all(collections[e] == 1 for e in kept)  # collected and audited once
        assert set(deliveries.values()) == kept  # each has its delivery
        assert all(transmissions[d] == 1 for d in deliveries)  # transmitted, audited once

        seen = read_topic(
            broker.bootstrap,
            f"{prefix}.v1.deliveries.{RECIPIENT}",
            expect=len(deliveries),
            timeout=30,
        )
        assert {m["headers"]["delivery-id"] for m in seen} == set(deliveries)
        assert verify_engine(store.engine).ok
        store.engine.dispose()
    finally:
        process.terminate()
        process.wait(timeout=30)
