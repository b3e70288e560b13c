"""Webhook delivery against a real loopback peer: retries, Retry-After, dead letters, replay."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import yaml
from standardwebhooks import Webhook, WebhookVerificationError
from typer.testing import CliRunner

from gateway.audit.verify import verify_engine
from gateway.cli import app as cli
from gateway.delivery.channels import CircuitBreaker
from gateway.delivery.signing import encode_secret, sign_headers, verify
from tests.conftest import STORES, serve_app, start_gateway
from tests.delivery.webhook_peer import WebhookPeer

PARTNER = {"Content-Type": "application/json"}
KEY = b"probation-north-webhook-key-32-bytes!"
SECRET = encode_secret(KEY)
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def wait_for(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(params=STORES)
def push_gateway(request, broker, store_url_factory, tmp_path):
    peer = WebhookPeer(secret=SECRET, timeout_sleep=1.0)
    peer_server, peer_thread, peer_url = serve_app(peer.app())
    partners = tmp_path / "partners.yaml"
    partners.write_text(
        yaml.safe_dump(
            {
                "partners": {
                    "probation-spoc-north": {
                        "webhook": {
                            "url": f"{peer_url}/hook",
                            "signing_key": SECRET,
                            "timeout_seconds": 0.5,
                            "max_attempts": 3,
                            "initial_backoff_seconds": 0.05,
                            "max_backoff_seconds": 0.2,
                            "breaker_failures": 50,
                        }
                    }
                }
            }
        )
    )
    url = store_url_factory(request.param)
    running, server, thread = start_gateway(
        request.param, url, broker.bootstrap, tmp_path / "data", partners_file=partners
    )
    yield running, peer, url
    server.should_exit = True
    thread.join(timeout=10)
    running.runtime.stop()
    peer_server.should_exit = True
    peer_thread.join(timeout=10)


def _webhook_row(gateway, exchange_id: str) -> dict:
    with gateway.store.engine.connect() as conn:
        return dict(
            conn.execute(
                sa.text("SELECT * FROM outbox WHERE exchange_id = :e AND channel = 'webhook'"),
                {"e": exchange_id},
            )
            .mappings()
            .one()
        )


def test_signed_push_reaches_the_peer_once(push_gateway, police_sample):
    """Signed as Standard Webhooks says (the peer verifies with the standardwebhooks
    library), the partner's trace context in the standard ``traceparent`` header."""
    gateway, peer, _ = push_gateway
    with gateway.client() as client:
        exchange_id = client.post(
            "/v1/inbound/police",
            content=police_sample,
            headers={**PARTNER, "traceparent": TRACEPARENT},
        ).json()["exchange_id"]
    row = wait_for(
        lambda: (
            _webhook_row(gateway, exchange_id)["status"] == "sent"
            and _webhook_row(gateway, exchange_id)
        ),
        what="webhook sent",
    )
    assert list(peer.received) == [row["delivery_id"]]
    assert peer.attempts and all(a.signed for a in peer.attempts)
    trace_id = TRACEPARENT.split("-")[1]
    assert all(a.traceparent and a.traceparent.split("-")[1] == trace_id for a in peer.attempts)
    payload = peer.received[row["delivery_id"]]
    assert payload["record"]["exchange_id"] == exchange_id
    assert "summary" not in payload["record"]["payload"]["crime"]


def _copy_status(gateway, exchange_id: str, recipient: str) -> str:
    """What ``GET /v1/exchanges/{id}`` says of ``recipient``'s copy."""
    with gateway.client() as client:
        copies = client.get(f"/v1/exchanges/{exchange_id}").json()["deliveries"]
    return next(c["status"] for c in copies if c["recipient"] == recipient)


def test_failing_peer_is_retried_then_dead_lettered_then_replayed(
    push_gateway, police_sample, monkeypatch
):
    gateway, peer, store_url = push_gateway
    peer.script = ["500", "timeout", "503:1"]
    peer.then = "500"
    with gateway.client() as client:
        exchange_id = client.post(
            "/v1/inbound/police", content=police_sample, headers=PARTNER
        ).json()["exchange_id"]
    row = wait_for(
        lambda: (r := _webhook_row(gateway, exchange_id))["status"] == "dead" and r,
        what="dead letter",
    )
    tries = [a for a in peer.attempts if a.delivery_id == row["delivery_id"]]
    assert [a.answered for a in tries] == ["500", "timeout", "503:1"]  # max_attempts = 3
    assert not peer.received
    assert _copy_status(gateway, exchange_id, row["recipient"]) == "dead-lettered"

    monkeypatch.setenv("GATEWAY_DATABASE_URL", store_url)
    listed = CliRunner().invoke(cli, ["dlq", "list"])
    assert listed.exit_code == 0
    assert row["delivery_id"] in listed.output
    dead_id = listed.output.split("\t", 1)[0]
    shown = CliRunner().invoke(cli, ["dlq", "show", dead_id])
    assert "gave up after 3 attempts" in shown.output

    peer.then = "ok"
    replayed = CliRunner().invoke(cli, ["dlq", "replay", dead_id])
    assert replayed.exit_code == 0, replayed.output
    gateway.runtime.relay.nudge()
    wait_for(lambda: row["delivery_id"] in peer.received, what="replayed delivery")
    assert _webhook_row(gateway, exchange_id)["status"] == "sent"
    assert _copy_status(gateway, exchange_id, row["recipient"]) == "sent"
    again = CliRunner().invoke(cli, ["dlq", "replay", dead_id])
    assert again.exit_code == 2  # already replayed: a plain error
    with gateway.store.engine.connect() as conn:
        transmissions = conn.execute(
            sa.text(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'transmission'"
                " AND exchange_id = :e AND details LIKE :d"
            ),
            {"e": exchange_id, "d": f"%{row['delivery_id']}%"},
        ).scalar_one()
        trail = conn.execute(
            sa.text(
                "SELECT action, actor, details FROM audit_log WHERE exchange_id = :e"
                " AND action IN ('undelivered', 'redelivery') ORDER BY seq"
            ),
            {"e": exchange_id},
        ).all()
    assert transmissions == 1
    # The DPO's view: the disclosure was given up on, why, and who put it back.
    assert [r.action for r in trail] == ["undelivered", "redelivery"]
    undelivered, redelivery = (json.loads(r.details) for r in trail)
    assert undelivered["delivery_id"] == redelivery["delivery_id"] == row["delivery_id"]
    assert undelivered["reason"].startswith("gave up after 3 attempts")
    assert trail[0].actor == "gateway" and trail[1].actor.startswith("operator:")
    assert verify_engine(gateway.store.engine).ok


def test_retry_after_is_honoured(push_gateway, police_sample):
    gateway, peer, _ = push_gateway
    peer.script = ["503:1"]
    with gateway.client() as client:
        exchange_id = client.post(
            "/v1/inbound/police", content=police_sample, headers=PARTNER
        ).json()["exchange_id"]
    row = wait_for(
        lambda: (r := _webhook_row(gateway, exchange_id))["status"] == "sent" and r,
        what="webhook sent",
    )
    first, second = [a for a in peer.attempts if a.delivery_id == row["delivery_id"]]
    assert second.at - first.at >= 0.95  # waited for Retry-After, not the 0.05 s backoff


def test_circuit_breaker_opens_after_repeated_failures_and_half_opens():
    breaker = CircuitBreaker(threshold=2, cooldown=0.2)
    breaker.record(False)
    assert breaker.allows()
    breaker.record(False)
    assert not breaker.allows()
    time.sleep(0.25)
    assert breaker.allows()  # half-open: one try
    breaker.record(True)
    assert breaker.allows() and breaker.failures == 0


def test_signature_verifies_only_with_the_right_key_body_id_and_time():
    headers = sign_headers("d-1", b'{"a":1}', KEY)
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-signature"].startswith("v1,")
    assert verify(b'{"a":1}', headers, KEY)
    assert not verify(b'{"a":2}', headers, KEY)
    assert not verify(b'{"a":1}', headers, b"another key of thirty-two bytes!!")
    assert not verify(b'{"a":1}', {**headers, "webhook-id": "d-2"}, KEY)
    old = datetime.now(UTC) - timedelta(minutes=10)
    assert not verify(b'{"a":1}', sign_headers("d-1", b'{"a":1}', KEY, old), KEY)  # too old


def test_a_receiver_verifies_with_the_standard_webhooks_library():
    """What a partner would write: the library, the whsec_ secret, the request's headers."""
    body = b'{"record": {}}'
    headers = sign_headers("delivery-7", body, KEY)
    assert Webhook(SECRET).verify(body, headers) == {"record": {}}
    with pytest.raises(WebhookVerificationError):
        Webhook(encode_secret(b"x" * 32)).verify(body, headers)
