"""A repeated POST with the same Idempotency-Key gets the original answer and creates nothing."""

from __future__ import annotations

import json
import uuid

PARTNER = {"X-Partner-Id": "cheshire-police", "Content-Type": "application/json"}


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
    with gateway.client() as client:
        other = client.post(
            "/v1/inbound/police",
            content=police_sample,
            headers={**PARTNER, "X-Partner-Id": "cwp-mental-health", "Idempotency-Key": key},
        )
    assert "idempotent-replayed" not in other.headers
