"""Rate limits: a partner system over its limit, and an address that keeps failing to
authenticate, get 429 problem+json with Retry-After, and no work is done for them."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import EXAMPLES, start_gateway

JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def gateway(broker, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("gw-limits")
    running, server, thread = start_gateway(
        "sqlite",
        f"sqlite:///{data_dir / 'gateway.db'}",
        broker.bootstrap,
        data_dir,
        rate_limit_per_client="3/minute",
        rate_limit_per_address="4/minute",
    )
    yield running
    server.should_exit = True
    thread.join(timeout=10)
    running.runtime.stop()


def test_a_client_over_its_limit_gets_429_with_retry_after(gateway):
    body = (EXAMPLES / "police" / "stalking-crime.json").read_bytes()
    with gateway.client("cheshire-police") as client:
        answers = [client.post("/v1/inbound/police", content=body, headers=JSON) for _ in range(4)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    over = answers[-1]
    assert over.headers["content-type"].startswith("application/problem+json")
    assert over.json()["type"].endswith("/too-many-requests")
    assert 1 <= int(over.headers["retry-after"]) <= 60
    # Another client's limit is its own.
    with gateway.client("cwp-mental-health") as other:
        assert other.get(f"/v1/exchanges/{answers[0].json()['exchange_id']}").status_code == 404


def test_failed_authentication_from_one_address_is_slowed_before_it_is_audited(gateway):
    before = gateway.count_rows()["audit_log"]
    statuses = [
        httpx.post(
            f"{gateway.base_url}/v1/inbound/police",
            headers={**JSON, "Authorization": "Bearer forged"},
            content=b"{}",
        ).status_code
        for _ in range(8)
    ]
    # The token endpoint's requests (the first test's) count against the same address.
    refused = statuses.count(401)
    assert refused >= 1 and statuses == [401] * refused + [429] * (8 - refused)
    assert gateway.count_rows()["audit_log"] - before == refused  # the 429s wrote nothing


def test_a_window_expires_when_read_and_forgotten_callers_are_swept(monkeypatch):
    from gateway.api import rate_limit_storage

    clock = [1000.0]
    monkeypatch.setattr(rate_limit_storage.time, "time", lambda: clock[0])
    storage = rate_limit_storage.LazyMemoryStorage(sweep_above=2)
    assert [storage.incr("a", 10) for _ in range(3)] == [1, 2, 3]
    assert storage.get("a") == 3 and storage.get_expiry("a") == 1010.0
    clock[0] = 1010.0
    assert storage.get("a") == 0  # the window ended
    assert storage.incr("a", 10) == 1 and storage.get_expiry("a") == 1020.0
    storage.incr("b", 1)
    storage.incr("c", 1)
    clock[0] = 1015.0
    storage.incr("d", 1)  # over two keys: the ended windows of b and c go
    assert set(storage._windows) == {"a", "d"}
