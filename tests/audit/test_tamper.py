"""Tampering with the audit table in each of four ways; `gateway audit verify` names the entry."""

from __future__ import annotations

import hashlib
import json

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from gateway.audit import AuditEntry
from gateway.cli import app
from gateway.store import Store
from gateway.store.audit_log import append
from tests.conftest import STORES

ENTRIES = 6


@pytest.fixture(params=STORES)
def chained_store(request, store_url_factory) -> tuple[Store, str]:
    url = store_url_factory(request.param)
    store = Store.from_url(url)
    store.upgrade()
    with store.transaction() as conn:
        append(
            conn,
            [
                AuditEntry(
                    action="collection",
                    actor="cheshire-police",
                    exchange_id=f"ex-{i}",
                    details={"n": i, "purpose": "stalking-risk-management"},
                )
                for i in range(1, ENTRIES + 1)
            ],
        )
    yield store, url
    store.engine.dispose()


def verify(url: str, monkeypatch):
    monkeypatch.setenv("GATEWAY_DATABASE_URL", url)
    return CliRunner().invoke(app, ["audit", "verify"])


def _row(conn, seq: int) -> dict:
    return dict(
        conn.execute(sa.text("SELECT * FROM audit_log WHERE seq = :s"), {"s": seq}).mappings().one()
    )


def _move(conn, seq: int, to: int) -> None:
    conn.execute(sa.text("UPDATE audit_log SET seq = :t WHERE seq = :s"), {"t": to, "s": seq})


def _forged_hash(fields: dict) -> str:
    """What a forger who read the README computes: the documented rule, by hand."""
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256((fields["prev_hash"] + text).encode()).hexdigest()


def test_intact_chain_verifies(chained_store, monkeypatch):
    _, url = chained_store
    result = verify(url, monkeypatch)
    assert result.exit_code == 0, result.output
    assert f"{ENTRIES} entries verified" in result.output


def test_changed_entry_is_named(chained_store, monkeypatch):
    store, url = chained_store
    with store.transaction() as conn:
        conn.execute(sa.text("UPDATE audit_log SET recipient = 'press-office' WHERE seq = 3"))
    result = verify(url, monkeypatch)
    assert result.exit_code == 1
    assert "entry 3 (changed)" in result.output


def test_changed_and_rehashed_entry_is_named(chained_store, monkeypatch):
    store, url = chained_store
    with store.transaction() as conn:
        row = _row(conn, 3)
        details = json.loads(row["details"]) | {"purpose": "curiosity"}
        fields = {
            k: row[k]
            for k in (
                "entry_id",
                "recorded_at",
                "action",
                "actor",
                "recipient",
                "exchange_id",
                "hash_alg",
                "prev_hash",
            )
        }
        fields["details"] = details
        forged = _forged_hash(fields)
        conn.execute(
            sa.text("UPDATE audit_log SET details = :d, hash = :h WHERE seq = 3"),
            {"d": json.dumps(details), "h": forged},
        )
    result = verify(url, monkeypatch)
    assert result.exit_code == 1
    assert "entry 3 (changed)" in result.output


def test_removed_entry_is_named(chained_store, monkeypatch):
    store, url = chained_store
    with store.transaction() as conn:
        conn.execute(sa.text("DELETE FROM audit_log WHERE seq = 3"))
    result = verify(url, monkeypatch)
    assert result.exit_code == 1
    assert "entry 3 (removed)" in result.output


def test_inserted_entry_is_named(chained_store, monkeypatch):
    """A forger who knows the algorithm inserts a well-formed entry after entry 2."""
    store, url = chained_store
    with store.transaction() as conn:
        prev = _row(conn, 2)
        for seq in range(ENTRIES, 2, -1):
            _move(conn, seq, seq + 1)
        fields = {
            "entry_id": "forged-entry",
            "recorded_at": prev["recorded_at"],
            "action": "collection",
            "actor": "cheshire-police",
            "recipient": None,
            "exchange_id": "ex-forged",
            "details": {"n": 99},
            "hash_alg": "sha256",
            "prev_hash": prev["hash"],
        }
        digest = _forged_hash(fields)
        conn.execute(
            sa.text(
                "INSERT INTO audit_log (seq, entry_id, recorded_at, action, actor, recipient,"
                " exchange_id, details, hash_alg, prev_hash, hash) VALUES (3, :entry_id,"
                " :recorded_at, :action, :actor, :recipient, :exchange_id, :details,"
                " :hash_alg, :prev_hash, :hash)"
            ),
            {**fields, "details": json.dumps(fields["details"]), "hash": digest},
        )
    result = verify(url, monkeypatch)
    assert result.exit_code == 1
    assert "entry 3 (inserted)" in result.output


def test_reordered_entries_are_named(chained_store, monkeypatch):
    store, url = chained_store
    with store.transaction() as conn:
        _move(conn, 3, -1)
        _move(conn, 4, 3)
        _move(conn, -1, 4)
    result = verify(url, monkeypatch)
    assert result.exit_code == 1
    assert "entry 3 (reordered)" in result.output


def test_verify_without_a_store_is_a_plain_error(tmp_path, monkeypatch):
    monkeypatch.delenv("GATEWAY_DATABASE_URL", raising=False)
    result = CliRunner().invoke(app, ["audit", "verify", "--data-dir", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert "no store" in result.output
    assert "Traceback" not in result.output
