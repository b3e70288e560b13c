"""An entry's digest, built from its pieces serialised up front, is the documented one.

``AuditEntry`` serialises itself once, when created, and splices ``prev_hash``
in under the audit lock. The chain's definition is ``SHA-256(prev_hash ||
canonical_json(entry))`` over every column but ``seq`` and ``hash``; this test
computes that the plain way and compares, including the awkward values.
"""

from __future__ import annotations

import hashlib
import json

import pytest

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
        "details": entry.details,
        "hash_alg": "sha256",
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
        details={"z": [1, 2.5, None, True], "a": {"é": "Siân O\u2019Brien", "quote": 'say "hi"\n'}},
    ),
    AuditEntry(action="refusal", actor="x\u2028y", details={"emoji": "\U0001f600", "ctl": "\x00"}),
]


@pytest.mark.parametrize("entry", ENTRIES, ids=["empty", "nested-unicode", "separators"])
@pytest.mark.parametrize("prev_hash", ["0" * 64, hashlib.sha256(b"x").hexdigest()])
def test_digest_matches_the_plain_definition(entry: AuditEntry, prev_hash: str) -> None:
    assert entry.digest(prev_hash) == _plain_digest(entry, prev_hash)


def test_details_column_is_the_canonical_json_of_details() -> None:
    entry = ENTRIES[1]
    assert json.loads(entry.details_json) == entry.details
    assert entry.details_json == json.dumps(
        entry.details, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def test_the_independent_verifier_accepts_awkward_entries(fresh_store: Store) -> None:
    from gateway.audit import append

    with fresh_store.transaction() as conn:
        append(conn, ENTRIES)
    assert verify_engine(fresh_store.engine).ok
