"""An entry's digest, built from its pieces serialised up front, is the documented one.

``AuditEntry`` serialises itself once, when created, and splices ``prev_hash``
in under the audit lock. The chain's definition is ``SHA-256(prev_hash ||
canonical_json(entry))`` over every column but ``seq`` and ``hash``, the
``details`` column as its stored text (``sha256-text``); this test computes that
the plain way and compares, including the awkward values.
"""

from __future__ import annotations

import hashlib
import json

import pytest
import sqlalchemy as sa

from gateway.audit import AuditEntry
from gateway.audit.verify import verify_engine
from gateway.store import Store


def _plain_digest(entry: AuditEntry, prev_hash: str) -> str:
    fields = {
        "entry_id": entry.entry_id,
        "recorded_at": entry.recorded_at,
        "action": entry.action,
        "actor": entry.actor,
        "recipient": entry.recipient,
        "exchange_id": entry.exchange_id,
        "details": entry.details_json,
        "hash_alg": "sha256-text",
        "prev_hash": prev_hash,
    }
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + text).encode("utf-8")).hexdigest()


ENTRIES = [
    AuditEntry(action="collection", actor="cheshire-police", details={}),
    AuditEntry(
        action="disclosure",
        actor="mersey-care",
        recipient="probation-spoc-north",
        exchange_id="0b7c1d2e-0000-4000-8000-000000000001",
        details={
            "z": [1, 2.5, 1e-05, 1e16, None, True],
            "a": {"é": "Siân O\u2019Brien", "quote": 'say "hi"\n'},
        },
    ),
    AuditEntry(action="refusal", actor="x\u2028y", details={"emoji": "\U0001f600", "ctl": "\x00"}),
    # The canonical text is split where prev_hash goes: details spelling it must not fool that.
    AuditEntry(
        action="disclosure",
        actor="p",
        recipient='"prev_hash":null',
        details={"prev_hash": None, "text": '"prev_hash":null', "end": '\\"prev_hash":null'},
    ),
]


@pytest.mark.parametrize(
    "entry", ENTRIES, ids=["empty", "nested-unicode", "separators", "prev-hash-lookalike"]
)
@pytest.mark.parametrize(
    "prev_hash", ["0" * 64, hashlib.sha256(b"x").hexdigest(), 'not hex, "quoted" \u00e9']
)
def test_digest_matches_the_plain_definition(entry: AuditEntry, prev_hash: str) -> None:
    assert entry.digest(prev_hash) == _plain_digest(entry, prev_hash)


def test_details_column_is_the_details_as_json_with_sorted_keys() -> None:
    entry = ENTRIES[1]
    assert json.loads(entry.details_json) == entry.details
    assert list(json.loads(entry.details_json)) == ["a", "z"]


def test_details_orjson_refuses_are_written_by_json() -> None:
    """Keys that are not strings and integers over 64 bits still make an entry."""
    entry = AuditEntry(action="collection", actor="p", details={"n": 2**70, "k": {1: "x"}})
    assert entry.details_json == '{"k":{"1":"x"},"n":1180591620717411303424}'


def test_the_independent_verifier_accepts_awkward_entries(fresh_store: Store) -> None:
    from gateway.store.audit_log import append

    with fresh_store.transaction() as conn:
        append(conn, ENTRIES)
    assert verify_engine(fresh_store.engine).ok


def test_a_space_added_to_stored_details_is_a_change(fresh_store: Store) -> None:
    """Hashed as stored text, details cannot be re-spaced or re-ordered unnoticed (under
    the first algorithm, which hashed them parsed, that went unseen)."""
    from gateway.store.audit_log import append

    with fresh_store.transaction() as conn:
        append(conn, ENTRIES)
        conn.execute(
            sa.text("UPDATE audit_log SET details = replace(details, ',', ', ') WHERE seq = 2")
        )
    report = verify_engine(fresh_store.engine)
    assert not report.ok and report.finding.seq == 2 and report.finding.kind == "changed"


def _legacy_digest(fields: dict, prev_hash: str) -> str:
    """The first algorithm, ``sha256``: details hashed as parsed JSON."""
    text = json.dumps(
        {**fields, "hash_alg": "sha256", "prev_hash": prev_hash},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256((prev_hash + text).encode("utf-8")).hexdigest()


def test_a_chain_begun_under_the_first_algorithm_verifies_across_the_change(
    fresh_store: Store,
) -> None:
    """Entries written before ``sha256-text`` keep verifying by their own rule, and the
    first new entry links to the last old one."""
    from gateway.store.audit_log import append

    prev = "0" * 64
    with fresh_store.transaction() as conn:
        for seq in (1, 2):
            fields = {
                "entry_id": f"legacy-{seq}",
                "recorded_at": "2026-01-01T00:00:00.000000+00:00",
                "action": "collection",
                "actor": "cheshire-police",
                "recipient": None,
                "exchange_id": None,
                "details": {"n": seq, "b": [1.5, None]},
            }
            digest = _legacy_digest(fields, prev)
            conn.execute(
                sa.text(
                    "INSERT INTO audit_log (seq, entry_id, recorded_at, action, actor,"
                    " recipient, exchange_id, details, hash_alg, prev_hash, hash) VALUES"
                    " (:seq, :entry_id, :recorded_at, :action, :actor, :recipient,"
                    " :exchange_id, :details, 'sha256', :prev_hash, :hash)"
                ),
                {
                    **fields,
                    "seq": seq,
                    "details": json.dumps(fields["details"], indent=1),  # any spacing
                    "prev_hash": prev,
                    "hash": digest,
                },
            )
            prev = digest
        conn.execute(
            sa.text("UPDATE audit_head SET seq = 2, hash = :hash WHERE id = 1"), {"hash": prev}
        )
        append(conn, ENTRIES)
    report = verify_engine(fresh_store.engine)
    assert report.ok and report.entries == 2 + len(ENTRIES)
    with fresh_store.engine.connect() as conn:
        algorithms = conn.execute(sa.text("SELECT hash_alg FROM audit_log ORDER BY seq")).scalars()
        assert list(algorithms) == ["sha256", "sha256"] + ["sha256-text"] * len(ENTRIES)
