"""The running gateway (SQLite and PostgreSQL): it seals what it appends, so a
checkpoint can be signed over real traffic; its decisions columns are covered by the
chain; GET /v1/audit/keys publishes the key the checkpoints are signed with."""

from __future__ import annotations

import json

import sqlalchemy as sa

from gateway.audit.checkpoints import take_checkpoint, verify_store
from gateway.delivery.reader import read_topic
from tests.audit.tampering import tampering
from tests.gateway.test_inbound_exchange import submit


def test_real_traffic_is_sealed_checkpointed_and_its_decisions_covered(gateway, police_sample):
    exchange_id = submit(gateway, police_sample).json()["exchange_id"]
    read_topic(
        gateway.bootstrap, gateway.topic("probation-spoc-north"), exchange_id=exchange_id, expect=1
    )
    keys = gateway.runtime.audit_keys
    made = take_checkpoint(gateway.store, keys)
    assert made is not None and made.upto_seq >= 3
    report = verify_store(gateway.store.engine, keys)
    assert report.ok, report.finding
    assert report.exchanges >= 1
    with gateway.store.engine.connect() as conn:
        stated = conn.execute(
            sa.text(
                "SELECT action, details FROM audit_log WHERE exchange_id = :e"
                " AND details LIKE '%decisions_sha256%'"
            ),
            {"e": exchange_id},
        ).all()
    assert [r.action for r in stated] == ["refusal"]  # the exchange's last decided entry
    assert len(json.loads(stated[0].details)["decisions_sha256"]) == 64
    column = "decisions::text" if gateway.store.dialect == "postgresql" else "decisions"
    with tampering(gateway.store) as conn:
        original = conn.execute(
            sa.text(f"SELECT {column} FROM exchanges WHERE exchange_id = :e"), {"e": exchange_id}
        ).scalar_one()
        edited = original.replace('"permit"', '"deny"', 1)
        cast = "CAST(:d AS json)" if gateway.store.dialect == "postgresql" else ":d"
        conn.execute(
            sa.text(f"UPDATE exchanges SET decisions = {cast} WHERE exchange_id = :e"),
            {"d": edited, "e": exchange_id},
        )
    try:
        report = verify_store(gateway.store.engine, keys)
        assert report.finding is not None and report.finding.kind == "decisions-changed"
        assert exchange_id in report.finding.message
    finally:
        with tampering(gateway.store) as conn:
            conn.execute(
                sa.text(f"UPDATE exchanges SET decisions = {cast} WHERE exchange_id = :e"),
                {"d": original, "e": exchange_id},
            )


def test_the_public_keys_are_published(gateway):
    with gateway.client(None) as client:
        answer = client.get("/v1/audit/keys")
    assert answer.status_code == 200
    keys = answer.json()["keys"]
    assert keys[0]["key_id"] == gateway.runtime.audit_keys.current.key_id
    assert keys[0]["status"] == "current" and keys[0]["algorithm"] == "Ed25519"
