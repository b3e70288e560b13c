"""A repeated POST with the same Idempotency-Key gets the original answer and creates nothing."""

from __future__ import annotations

import json
import uuid

from gateway.api import idempotency
from gateway.errors import ServiceUnavailable
from tests.conftest import EXAMPLES

PARTNER = {"Content-Type": "application/json"}


def post(gateway, body: bytes, key: str):
    with gateway.client() as client:
        return client.post(
            "/v1/inbound/police", content=body, headers={**PARTNER, "Idempotency-Key": key}
        )


def test_retry_returns_the_original_answer_and_creates_nothing(gateway, police_sample):
    key = str(uuid.uuid4())
    first = post(gateway, police_sample, key)
    assert first.status_code == 202
    after_first = gateway.count_rows()
    again = post(gateway, police_sample, key)
    assert again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert gateway.count_rows() == after_first


def test_same_key_with_another_body_is_a_conflict(gateway, police_sample):
    key = str(uuid.uuid4())
    assert post(gateway, police_sample, key).status_code == 202
    changed = json.loads(police_sample)
    changed["occurrence"]["status"] = "charged"
    before = gateway.count_rows()
    response = post(gateway, json.dumps(changed).encode(), key)
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith("/idempotency-conflict")
    assert gateway.count_rows() == before


def test_a_rejected_body_does_not_use_up_the_key(gateway, police_sample):
    key = str(uuid.uuid4())
    broken = json.loads(police_sample)
    del broken["occurrence"]["offence"]
    assert post(gateway, json.dumps(broken).encode(), key).status_code == 422
    fixed = post(gateway, police_sample, key)
    assert fixed.status_code == 202


def test_keys_belong_to_one_partner(gateway, police_sample):
    """Another partner reusing a key value is a different request, not a replay."""
    key = str(uuid.uuid4())
    assert post(gateway, police_sample, key).status_code == 202
    with gateway.client("cwp-mental-health") as client:
        other = client.post(
            "/v1/inbound/police",
            content=police_sample,
            headers={**PARTNER, "Idempotency-Key": key},
        )
    assert "idempotent-replayed" not in other.headers


def _post_batch(gateway, key: str):
    body = (EXAMPLES / "police" / "daily-screening-with-bad-rows.csv").read_bytes()
    with gateway.client() as client:
        return client.post(
            "/v1/inbound/police",
            content=body,
            headers={**PARTNER, "Content-Type": "text/csv", "Idempotency-Key": key},
        )


def test_a_batch_retry_returns_the_original_answer_and_creates_nothing(gateway):
    key = str(uuid.uuid4())
    before = gateway.count_rows()
    first = _post_batch(gateway, key)
    assert first.status_code == 202, first.text
    after_first = gateway.count_rows()
    assert after_first["exchanges"] == before["exchanges"] + first.json()["accepted"]
    again = _post_batch(gateway, key)
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert gateway.count_rows() == after_first


def test_a_batch_is_kept_only_with_its_answer(gateway, monkeypatch):
    """Exchanges and the stored answer commit together: when the answer cannot be
    written, none of the batch is kept, so the partner's retry creates each once."""
    key = str(uuid.uuid4())
    before = gateway.count_rows()

    record_answer = idempotency.record_answer

    def store_lost_at_the_batch_answer(conn, partner, key, status_code, body) -> None:
        if "results" in body:  # the batch's answer, not a single record's
            raise ServiceUnavailable("the store went away")
        record_answer(conn, partner, key, status_code, body)

    with monkeypatch.context() as patched:
        patched.setattr(idempotency, "record_answer", store_lost_at_the_batch_answer)
        failed = _post_batch(gateway, key)
    assert failed.status_code == 503
    assert gateway.count_rows() == before

    retried = _post_batch(gateway, key)
    assert retried.status_code == 202 and "idempotent-replayed" not in retried.headers
    assert gateway.count_rows()["exchanges"] == before["exchanges"] + retried.json()["accepted"]
