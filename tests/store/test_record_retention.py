"""The agreement's retention for received records: past it, a record's contents are
erased (its decisions, deliveries and audit trail stay), audited; a record still
being delivered or routed by hand waits; the agreement's periods are checked."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from gateway.audit.verify import verify_engine
from gateway.delivery import outbox
from gateway.delivery.outbox import OutboxMessage
from gateway.policy.model import Retention
from gateway.settings import RetentionPolicy
from gateway.store import Store
from gateway.store.retention import ERASED_ENVELOPE, erase_expired, with_agreement
from gateway.store.tables import audit_log, exchanges, unrouted
from tests.conftest import exchange_row

NOW = datetime.now(UTC)
WEEK = RetentionPolicy(sent_copies=timedelta(days=7), idempotency_keys=timedelta(days=7))
TWO_YEARS = with_agreement(WEEK, "2 years")
RECORD = {"subjects": [{"ref": "P1", "name": {"family": "Marsh"}}], "case_reference": "HRU-1"}


def _record(store: Store, submitted: datetime, *, pending_copy: bool = False) -> str:
    exchange_id = str(uuid.uuid4())
    row = exchange_row(exchange_id) | {
        "submitted_at": submitted,
        "envelope": RECORD,
        "case_reference": "HRU-1",
        "decisions": [{"recipient": "r", "effect": "permit"}],
    }
    with store.transaction() as conn:
        conn.execute(exchanges.insert().values(**row))
        if pending_copy:
            delivery_id = str(uuid.uuid4())
            message = OutboxMessage(delivery_id, exchange_id, "r", "kafka", "t", "k", "{}", {})
            outbox.enqueue(conn, outbox.outbox_rows([message]))
    return exchange_id


def _row(store: Store, exchange_id: str) -> dict:
    with store.engine.connect() as conn:
        row = conn.execute(
            sa.select(exchanges).where(exchanges.c.exchange_id == exchange_id)
        ).mappings()
        found = dict(row.one())
    for column in ("envelope", "decisions"):
        if isinstance(found[column], str):
            found[column] = json.loads(found[column])
    return found


def test_a_record_past_the_agreements_period_is_erased_and_audited(fresh_store):
    old = _record(fresh_store, NOW - timedelta(days=800))
    recent = _record(fresh_store, NOW - timedelta(days=30))

    erased = erase_expired(fresh_store, TWO_YEARS, now=NOW, actor="operator:test")
    assert erased.exchanges == 1

    gone = _row(fresh_store, old)
    assert gone["envelope"] == ERASED_ENVELOPE and gone["case_reference"] is None
    assert gone["erased_at"] is not None
    assert gone["decisions"] == [{"recipient": "r", "effect": "permit"}]  # kept
    kept = _row(fresh_store, recent)
    assert kept["envelope"] == RECORD and kept["erased_at"] is None

    with fresh_store.engine.connect() as conn:
        (details,) = conn.execute(
            sa.select(audit_log.c.details).where(audit_log.c.action == "erasure")
        ).scalars()
    entry = json.loads(details)
    assert entry["table"] == "exchanges" and entry["exchange_ids"] == [old]
    assert "Marsh" not in details and "HRU-1" not in details
    assert verify_engine(fresh_store.engine).ok

    again = erase_expired(fresh_store, TWO_YEARS, now=NOW)
    assert again.exchanges == 0  # erased once


def test_a_record_still_being_delivered_or_routed_by_hand_waits(fresh_store):
    delivering = _record(fresh_store, NOW - timedelta(days=800), pending_copy=True)
    routing = _record(fresh_store, NOW - timedelta(days=800))
    with fresh_store.transaction() as conn:
        conn.execute(
            unrouted.insert().values(
                exchange_id=routing, recipients=["a", "b"], flow="f", status="open", created_at=NOW
            )
        )
    assert erase_expired(fresh_store, TWO_YEARS, now=NOW, dry_run=True).exchanges == 0
    assert erase_expired(fresh_store, TWO_YEARS, now=NOW).exchanges == 0
    assert _row(fresh_store, delivering)["envelope"] == RECORD
    assert _row(fresh_store, routing)["envelope"] == RECORD


def test_without_a_period_records_are_kept_and_a_dry_run_only_counts(fresh_store):
    old = _record(fresh_store, NOW - timedelta(days=4000))
    assert erase_expired(fresh_store, WEEK, now=NOW).exchanges == 0
    assert erase_expired(fresh_store, TWO_YEARS, now=NOW, dry_run=True).exchanges == 1
    assert _row(fresh_store, old)["erased_at"] is None


def test_the_agreements_periods_are_read_and_checked():
    assert with_agreement(WEEK, "2 years").exchanges == timedelta(days=730)
    assert with_agreement(WEEK, None) == replace(WEEK, exchanges=None)
    assert Retention(exchanges="2 years", audit_trail="6 years").audit_trail == "6 years"
    with pytest.raises(ValidationError, match="at least as long as the records"):
        Retention(exchanges="2 years", audit_trail="1 year")
    with pytest.raises(ValidationError):
        Retention(exchanges="two years")


def test_db_prune_erases_records_past_the_agreements_period(fresh_store, monkeypatch):
    from typer.testing import CliRunner

    from gateway.cli import app

    old = _record(fresh_store, NOW - timedelta(days=800))
    url = fresh_store.engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", url)
    dry = CliRunner().invoke(app, ["db", "prune", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would erase the contents of 1 record(s) older than 2 years" in dry.output
    done = CliRunner().invoke(app, ["db", "prune"])
    assert "erased the contents of 1 record(s) older than 2 years" in done.output
    assert _row(fresh_store, old)["envelope"] == ERASED_ENVELOPE


def test_audit_prune_takes_the_agreements_period_or_says_what_is_missing(tmp_path, monkeypatch):
    import shutil

    from typer.testing import CliRunner

    from gateway.cli import app
    from tests.conftest import ROOT
    from tests.policy.helpers import edit

    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    kept = runner.invoke(app, ["audit", "prune"])  # the sample's 6 years: nothing that old
    assert kept.exit_code == 0, kept.output
    assert "nothing to prune" in kept.output

    policy = tmp_path / "policy"
    shutil.copytree(ROOT / "policies" / "cheshire-hru", policy)
    edit(policy / "agreement.yaml", "    audit_trail: 6 years\n", "")
    monkeypatch.setenv("GATEWAY_POLICY_DIR", str(policy))
    missing = runner.invoke(app, ["audit", "prune"])
    assert missing.exit_code == 2
    assert "sets no retention.audit_trail: give --older-than-days" in missing.output
    assert "Traceback" not in missing.output
