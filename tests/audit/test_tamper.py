"""Tampering with the live store, each way an attacker with the database's admin rights
could: `gateway audit verify` catches it and names the first bad entry (SQLite and
PostgreSQL). The trail: entries 1-6 covered by a signed checkpoint, 7-8 not yet."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest
import rfc8785
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from gateway import jsontext
from gateway.audit import AuditEntry
from gateway.audit.chain import seal_decisions
from gateway.audit.checkpoints import take_checkpoint, verify_store
from gateway.audit.signing import AuditKeys, SigningKey, load_keys
from gateway.cli import app
from gateway.store import Store
from gateway.store.audit_log import append, use_sealer
from gateway.store.tables import INSERT_EXCHANGES
from tests.audit.tampering import tampering
from tests.conftest import STORES, exchange_row

EXCHANGE = "0b7c1d2e-0000-4000-8000-00000000ab01"
DECISIONS = [{"recipient": "probation-spoc-north", "effect": "permit", "rules": ["r1"]}]


@dataclass
class Trail:
    store: Store
    url: str
    data_dir: Path
    keys: AuditKeys


def _entry(i: int) -> AuditEntry:
    return AuditEntry(
        action="collection",
        actor="cheshire-police",
        exchange_id=f"ex-{i}",
        details={"n": i, "purpose": "stalking-risk-management"},
    )


def write_trail(store: Store) -> None:
    """Entry 2 is the disclosure of EXCHANGE, stating its decisions' hash."""
    decisions_text = jsontext.dumps(DECISIONS)
    disclosure = AuditEntry(
        action="disclosure",
        actor="cheshire-police",
        recipient="probation-spoc-north",
        exchange_id=EXCHANGE,
        details={"purpose": "stalking-risk-management", "disclosed": ["subject.name"]},
    )
    with store.transaction() as conn:
        row = exchange_row(EXCHANGE)
        row.update(envelope=json.dumps(row["envelope"]), decisions=decisions_text)
        conn.execute(INSERT_EXCHANGES, [row])
        append(conn, [_entry(1), *seal_decisions([disclosure], decisions_text)])
        append(conn, [_entry(i) for i in range(3, 7)])


@pytest.fixture(scope="session")
def trail_templates(tmp_path_factory, postgres):
    """The trail built once per store kind; each test gets a copy (a database made from
    it as a template, or the SQLite file copied), not a store migrated anew."""
    made: dict[str, tuple[str, Path]] = {}

    def template(kind: str) -> tuple[str, Path]:
        if kind not in made:
            tmp = tmp_path_factory.mktemp(f"trail-{kind}")
            url = f"sqlite:///{tmp / 'gateway.db'}" if kind == "sqlite" else postgres.new()
            store = Store.from_url(url)
            store.upgrade()
            keys = load_keys(None, [], tmp / "data")
            use_sealer(keys.current.seal)
            try:
                write_trail(store)
                take_checkpoint(store, keys)
                with store.transaction() as conn:
                    append(conn, [_entry(7), _entry(8)])
            finally:
                use_sealer(None)
                store.engine.dispose()
            made[kind] = (url, tmp / "data")
        return made[kind]

    return template


@pytest.fixture(params=STORES)
def trail(request, trail_templates, postgres, tmp_path) -> Iterator[Trail]:
    template_url, template_data = trail_templates(request.param)
    data_dir = tmp_path / "data"
    shutil.copytree(template_data, data_dir)
    if request.param == "sqlite":
        # SQLite's backup: a consistent copy, whatever the template's WAL still holds
        with (
            closing(sqlite3.connect(sa.make_url(template_url).database)) as source,
            closing(sqlite3.connect(tmp_path / "gateway.db")) as copy,
        ):
            source.backup(copy)
        url = f"sqlite:///{tmp_path / 'gateway.db'}"
    else:
        name = f"gw_test_{uuid.uuid4().hex[:12]}"
        template = sa.make_url(template_url).database
        with postgres.admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        postgres.created.append(name)
        url = postgres.admin.url.set(database=name).render_as_string(hide_password=False)
    store = Store.from_url(url)
    keys = load_keys(None, [], data_dir, create=False)
    use_sealer(keys.current.seal)
    yield Trail(store, url, data_dir, keys)
    use_sealer(None)
    store.engine.dispose()


def cli(trail: Trail, monkeypatch, *args: str):
    monkeypatch.setenv("GATEWAY_DATABASE_URL", trail.url)
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(trail.data_dir))
    return CliRunner().invoke(app, ["audit", *args])


def broken_at(trail: Trail, monkeypatch, seq: int, kind: str) -> str:
    result = cli(trail, monkeypatch, "verify")
    assert result.exit_code == 1, result.output
    assert f"BROKEN at entry {seq} ({kind})" in result.output, result.output
    return result.output


def row(conn, seq: int) -> dict:
    return dict(
        conn.execute(sa.text("SELECT * FROM audit_log WHERE seq = :s"), {"s": seq}).mappings().one()
    )


def rehash_from(conn, seq: int) -> None:
    """What a forger who read docs/audit.md does after changing entry ``seq``: recompute
    every hash from there, re-link, and move the head."""
    prev = row(conn, seq - 1)["hash"] if seq > 1 else "0" * 64
    last = conn.execute(sa.text("SELECT max(seq) FROM audit_log")).scalar_one()
    for s in range(seq, last + 1):
        canonical = bytes(row(conn, s)["canonical"])
        digest = hashlib.sha256(prev.encode() + canonical).hexdigest()
        conn.execute(
            sa.text("UPDATE audit_log SET prev_hash = :p, hash = :h WHERE seq = :s"),
            {"p": prev, "h": digest, "s": s},
        )
        prev = digest
    conn.execute(
        sa.text("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1"), {"s": last, "h": prev}
    )


def rewrite(conn, seq: int, **details) -> None:
    """Change entry ``seq``'s details consistently: canonical bytes and column."""
    r = row(conn, seq)
    entry = json.loads(bytes(r["canonical"]))
    entry["details"] = {**entry["details"], **details}
    conn.execute(
        sa.text("UPDATE audit_log SET canonical = :c, details = :d WHERE seq = :s"),
        {
            "c": rfc8785.dumps(entry),
            "d": rfc8785.dumps(entry["details"]).decode(),
            "s": seq,
        },
    )


def test_intact_trail_verifies(trail, monkeypatch):
    result = cli(trail, monkeypatch, "verify")
    assert result.exit_code == 0, result.output
    assert "8 entries verified (jcs-sha256)" in result.output
    assert "covers entries up to 6" in result.output
    assert "2 entries not yet covered by a checkpoint" in result.output
    assert "1 exchanges' decisions match" in result.output


def test_edited_bytes_are_named(trail, monkeypatch):
    with tampering(trail.store) as conn:
        canonical = bytes(row(conn, 3)["canonical"]).replace(b'"n":3', b'"n":4')
        conn.execute(sa.text("UPDATE audit_log SET canonical = :c WHERE seq = 3"), {"c": canonical})
    broken_at(trail, monkeypatch, 3, "changed")


def test_edited_column_is_named(trail, monkeypatch):
    """The readable columns are checked against the hashed bytes."""
    with tampering(trail.store) as conn:
        conn.execute(sa.text("UPDATE audit_log SET recipient = 'press-office' WHERE seq = 4"))
    broken_at(trail, monkeypatch, 4, "changed")


def test_deleted_entry_is_named(trail, monkeypatch):
    with tampering(trail.store) as conn:
        conn.execute(sa.text("DELETE FROM audit_log WHERE seq = 3"))
    broken_at(trail, monkeypatch, 3, "removed")


def test_inserted_entry_is_named(trail, monkeypatch):
    """A forger who knows the rule inserts a well-formed entry after entry 2."""
    forged = AuditEntry(action="collection", actor="cheshire-police", details={"n": 99})
    with tampering(trail.store) as conn:
        prev = row(conn, 2)["hash"]
        for seq in range(8, 2, -1):
            conn.execute(
                sa.text("UPDATE audit_log SET seq = :t WHERE seq = :s"), {"t": seq + 1, "s": seq}
            )
        conn.execute(
            sa.text(
                "INSERT INTO audit_log (seq, entry_id, recorded_at, action, actor, recipient,"
                " exchange_id, details, hash_alg, prev_hash, hash, canonical) VALUES (3, :e,"
                " :r, 'collection', 'cheshire-police', NULL, NULL, :d, 'jcs-sha256', :p, :h, :c)"
            ),
            {
                "e": forged.entry_id,
                "r": forged.recorded_at,
                "d": forged.details_json,
                "p": prev,
                "h": forged.digest(prev),
                "c": forged.canonical,
            },
        )
    broken_at(trail, monkeypatch, 3, "inserted")


def test_reordered_entries_are_named(trail, monkeypatch):
    with tampering(trail.store) as conn:
        conn.execute(sa.text("UPDATE audit_log SET seq = 100 WHERE seq = 3"))
        conn.execute(sa.text("UPDATE audit_log SET seq = 3 WHERE seq = 4"))
        conn.execute(sa.text("UPDATE audit_log SET seq = 4 WHERE seq = 100"))
    broken_at(trail, monkeypatch, 3, "reordered")


def test_rewrite_and_rehash_is_named(trail, monkeypatch):
    """The chain holds together again, but not the checkpoint's hash; the seals, which
    the forger cannot make, name the entry."""
    with tampering(trail.store) as conn:
        rewrite(conn, 3, purpose="curiosity")
        rehash_from(conn, 3)
    output = broken_at(trail, monkeypatch, 3, "changed")
    assert "checkpoint" in output


def test_rewrite_and_rehash_after_the_checkpoint_is_named_by_its_seal(trail, monkeypatch):
    with tampering(trail.store) as conn:
        rewrite(conn, 7, purpose="curiosity")
        rehash_from(conn, 7)
    broken_at(trail, monkeypatch, 7, "forged")


def test_forged_append_is_named_and_refused_a_checkpoint(trail, monkeypatch):
    """Well formed, chained and the head moved: only the missing seal gives it away."""
    use_sealer(None)  # the forger does not hold the key
    with tampering(trail.store) as conn:
        append(conn, [AuditEntry(action="disclosure", actor="x", details={"forged": True})])
    broken_at(trail, monkeypatch, 9, "forged")
    result = cli(trail, monkeypatch, "checkpoint")
    assert result.exit_code == 1
    assert "REFUSED at entry 9 (forged)" in result.output


def test_truncation_below_the_checkpoint_is_named(trail, monkeypatch):
    with tampering(trail.store) as conn:
        last = row(conn, 4)
        conn.execute(sa.text("DELETE FROM audit_log WHERE seq > 4"))
        conn.execute(
            sa.text("UPDATE audit_head SET seq = 4, hash = :h WHERE id = 1"), {"h": last["hash"]}
        )
    output = broken_at(trail, monkeypatch, 5, "removed")
    assert "truncated" in output


def test_emptied_log_is_named(trail, monkeypatch):
    with tampering(trail.store) as conn:
        conn.execute(sa.text("DELETE FROM audit_log"))
        conn.execute(
            sa.text("UPDATE audit_head SET seq = 0, hash = :g WHERE id = 1"), {"g": "0" * 64}
        )
    broken_at(trail, monkeypatch, 1, "removed")


def test_edited_decisions_are_named(trail, monkeypatch):
    with tampering(trail.store) as conn:
        changed = jsontext.dumps([{**DECISIONS[0], "effect": "deny"}])
        conn.execute(
            sa.text(
                "UPDATE exchanges SET decisions = "
                + ("CAST(:d AS json)" if conn.dialect.name == "postgresql" else ":d")
                + " WHERE exchange_id = :e"
            ),
            {"d": changed, "e": EXCHANGE},
        )
    broken_at(trail, monkeypatch, 2, "decisions-changed")


def test_checkpoint_signed_by_another_key_is_refused(trail, monkeypatch):
    from gateway.audit.checkpoints import insert_checkpoint, latest_checkpoint, statement_for

    impostor = SigningKey.of(Ed25519PrivateKey.generate())
    with tampering(trail.store) as conn:
        previous = latest_checkpoint(conn)
        statement = statement_for(
            impostor,
            "on-demand",
            first_seq=1,
            first_prev_hash="0" * 64,
            upto_seq=8,
            head_hash=row(conn, 8)["hash"],
            previous=previous,
        )
        insert_checkpoint(conn, impostor, "on-demand", statement)
    output = broken_at(trail, monkeypatch, 8, "checkpoint")
    assert "not trusted" in output


def test_removed_checkpoint_is_named(trail, monkeypatch):
    take_checkpoint(trail.store, trail.keys)
    with tampering(trail.store) as conn:
        conn.execute(sa.text("DELETE FROM audit_checkpoints WHERE id = 1"))
    output = broken_at(trail, monkeypatch, 8, "checkpoint")
    assert "removed or replaced" in output


def test_rolled_back_to_an_older_checkpoint_is_caught_with_one_held_elsewhere(
    trail, monkeypatch, tmp_path
):
    """Deleting the newest checkpoint and the entries it covered leaves a consistent
    older trail: a checkpoint kept outside the database (an export's) still shows it."""
    taken = take_checkpoint(trail.store, trail.keys)
    held = tmp_path / "held.jsonl"
    held.write_text(json.dumps(taken.as_record()) + "\n")
    with tampering(trail.store) as conn:
        conn.execute(sa.text("DELETE FROM audit_checkpoints WHERE id = :i"), {"i": taken.id})
        conn.execute(sa.text("DELETE FROM audit_log WHERE seq > 6"))
        conn.execute(
            sa.text("UPDATE audit_head SET seq = 6, hash = :h WHERE id = 1"),
            {"h": row(conn, 6)["hash"]},
        )
    assert cli(trail, monkeypatch, "verify").exit_code == 0  # the limit, documented
    result = cli(trail, monkeypatch, "verify", "--checkpoint", str(held))
    assert result.exit_code == 1
    assert "newer checkpoints were removed" in result.output


def test_the_keys_the_cli_shows_are_the_trusted_ones(trail, monkeypatch):
    result = cli(trail, monkeypatch, "keys")
    assert result.exit_code == 0
    published = json.loads(result.output)["keys"]
    assert [k["key_id"] for k in published] == [trail.keys.current.key_id]
    assert published[0]["status"] == "current"


def test_a_rotated_key_keeps_old_checkpoints_verifying(trail, monkeypatch):
    result = cli(trail, monkeypatch, "rotate-key")
    assert result.exit_code == 0, result.output
    rotated = load_keys(None, [], trail.data_dir)
    assert rotated.current.key_id != trail.keys.current.key_id
    use_sealer(rotated.current.seal)
    with trail.store.transaction() as conn:
        append(conn, [_entry(9)])
    take_checkpoint(trail.store, rotated)
    report = verify_store(trail.store.engine, rotated)
    assert report.ok, report.finding
    assert {cp.key_id for cp in _checkpoints(trail.store)} == {
        trail.keys.current.key_id,
        rotated.current.key_id,
    }
    # a second rotation retires the first key to the public list: still trusted
    assert cli(trail, monkeypatch, "rotate-key").exit_code == 0
    again = load_keys(None, [], trail.data_dir)
    assert trail.keys.current.key_id in again.retired
    assert verify_store(trail.store.engine, again).ok


def _checkpoints(store: Store):
    from gateway.audit.checkpoints import load_checkpoints

    with store.engine.connect() as conn:
        return load_checkpoints(conn)


def test_rewrite_and_rehash_is_named_without_the_key(trail):
    """The hashes a checkpoint recorded (their digest signed) name the entry: a verifier
    holding only the public keys needs no seal."""
    with tampering(trail.store) as conn:
        rewrite(conn, 3, purpose="curiosity")
        rehash_from(conn, 3)
    public_only = AuditKeys((), dict(trail.keys.trusted))
    report = verify_store(trail.store.engine, public_only)
    assert report.finding is not None
    assert (report.finding.seq, report.finding.kind) == (3, "changed")
    assert "not the one checkpoint 1 recorded" in report.finding.message
