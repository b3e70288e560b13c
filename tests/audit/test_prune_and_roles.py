"""Pruning the audit trail behind a signed anchor keeps every checkpoint verifiable; on
PostgreSQL the gateway's role may only insert into the audit tables; checkpoints are
signed at an interval."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from gateway.audit.checkpoints import keep_checkpointing, load_checkpoints, verify_store
from gateway.store import Store
from gateway.store.audit_log import append
from gateway.store.retention import prune_audit_trail
from tests.audit.tampering import tampering
from tests.audit.test_export import check
from tests.audit.test_tamper import _entry, cli


def test_pruning_leaves_an_anchor_and_everything_verifies(trail, monkeypatch, tmp_path):
    pruned = prune_audit_trail(
        trail.store, trail.keys, datetime.now(UTC) + timedelta(days=1), actor="operator:test"
    )
    assert pruned.entries == 7 and pruned.first_kept == 8  # the newest entry is kept
    report = verify_store(trail.store.engine, trail.keys)
    assert report.ok, report.finding
    assert report.chain.first_seq == 8 and report.chain.entries == 2  # 8 and the erasure
    with trail.store.engine.connect() as conn:
        kinds = [cp.fields["kind"] for cp in load_checkpoints(conn)]
        erasure = conn.execute(
            sa.text("SELECT details FROM audit_log WHERE action = 'erasure'")
        ).scalar_one()
    assert kinds == ["on-demand", "anchor"]
    assert '"first_kept":8' in erasure and '"table":"audit_log"' in erasure
    result = cli(trail, monkeypatch, "verify")
    assert result.exit_code == 0, result.output
    assert "from entry 8 (pruned before)" in result.output
    out = tmp_path / "export"
    assert cli(trail, monkeypatch, "export", "--out", str(out)).exit_code == 0
    checked = check(out)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_prefix_removed_without_an_anchor_is_named(trail, monkeypatch):
    with tampering(trail.store) as conn:
        conn.execute(sa.text("DELETE FROM audit_log WHERE seq < 4"))
    result = cli(trail, monkeypatch, "verify")
    assert result.exit_code == 1
    assert "BROKEN at entry 1 (removed)" in result.output


def test_pruning_refuses_a_tampered_trail(trail):
    from gateway.audit.checkpoints import CheckpointRefused

    with tampering(trail.store) as conn:
        conn.execute(sa.text("UPDATE audit_log SET actor = 'someone' WHERE seq = 2"))
    with pytest.raises(CheckpointRefused):
        prune_audit_trail(
            trail.store, trail.keys, datetime.now(UTC) + timedelta(days=1), actor="operator:t"
        )
    with trail.store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM audit_log")).scalar_one() == 8


def test_checkpoints_are_signed_at_an_interval(trail):
    stop = threading.Event()
    thread = threading.Thread(
        target=keep_checkpointing, args=(trail.store, trail.keys, stop, 0.05), daemon=True
    )
    thread.start()
    try:
        for _ in range(100):
            with trail.store.engine.connect() as conn:
                signed = load_checkpoints(conn)
            if signed[-1].upto_seq == 8:
                break
            stop.wait(0.05)
        with trail.store.transaction() as conn:
            append(conn, [_entry(9)])
        for _ in range(100):
            with trail.store.engine.connect() as conn:
                signed = load_checkpoints(conn)
            if signed[-1].upto_seq == 9:
                break
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(timeout=5)
    assert [cp.upto_seq for cp in signed] == [6, 8, 9]  # none while nothing was appended
    assert {cp.fields["kind"] for cp in signed[1:]} == {"interval"}


#: Roles and the append-only triggers are PostgreSQL's.
ON_POSTGRESQL = pytest.mark.parametrize("trail", ["postgresql"], indirect=True)


@pytest.fixture
def gateway_role(trail):
    """A login granted isg_gateway, as docs/operations.md says to run the gateway."""
    name = f"gw_app_{uuid.uuid4().hex[:8]}"
    with trail.store.engine.connect() as conn:
        conn.execute(sa.text(f"CREATE ROLE {name} LOGIN"))
        conn.execute(sa.text(f"GRANT isg_gateway TO {name}"))
        conn.commit()
    url = sa.make_url(trail.url).set(username=name)
    store = Store.from_url(url.render_as_string(hide_password=False))
    yield store
    store.engine.dispose()
    with trail.store.engine.connect() as conn:
        conn.execute(sa.text(f"DROP OWNED BY {name}"))
        conn.execute(sa.text(f"DROP ROLE {name}"))
        conn.commit()


@ON_POSTGRESQL
def test_the_gateways_role_may_only_insert_into_the_audit_tables(trail, gateway_role):
    with gateway_role.transaction() as conn:  # what the gateway does: append
        append(conn, [_entry(9)])
    for statement in (
        "UPDATE audit_log SET actor = 'x' WHERE seq = 1",
        "DELETE FROM audit_log WHERE seq = 1",
        "TRUNCATE audit_log",
        "DELETE FROM audit_checkpoints",
        "SELECT isg_audit_prune(5)",
    ):
        with (
            pytest.raises(sa.exc.DBAPIError, match="permission denied"),
            gateway_role.transaction() as conn,
        ):
            conn.execute(sa.text(statement))
    assert verify_store(trail.store.engine, trail.keys).ok


@ON_POSTGRESQL
def test_even_the_owner_cannot_edit_an_entry_by_mistake(trail):
    for statement in ("UPDATE audit_log SET actor = 'x' WHERE seq = 1", "DELETE FROM audit_log"):
        with (
            pytest.raises(sa.exc.DBAPIError, match="append-only"),
            trail.store.transaction() as conn,
        ):
            conn.execute(sa.text(statement))


def test_the_prune_command_keeps_recent_entries_and_refuses_a_tampered_trail(trail, monkeypatch):
    result = cli(trail, monkeypatch, "prune", "--older-than-days", "30")
    assert result.exit_code == 0, result.output
    assert "nothing to prune: the log begins at entry 1" in result.output
    with tampering(trail.store) as conn:  # entries 1-5 recorded 40 days ago
        old = (datetime.now(UTC) - timedelta(days=40)).isoformat(timespec="microseconds")
        conn.execute(sa.text("UPDATE audit_log SET recorded_at = :t WHERE seq <= 5"), {"t": old})
    # the column no longer says what the bytes say: a pruning over it is refused
    refused = cli(trail, monkeypatch, "prune", "--older-than-days", "30")
    assert refused.exit_code != 0 and "does not verify" in refused.output
