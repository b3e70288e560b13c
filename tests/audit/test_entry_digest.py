"""An entry's digest, built from its pieces serialised up front, is the documented one.

``AuditEntry`` serialises itself once, when created. The chain's definition
(``jcs-sha256``) is ``SHA-256(prev_hash || canonical)`` where ``canonical`` is
the RFC 8785 bytes of the entry's fields, and the ``details`` column is the JCS
text of its details; this test computes that the plain way (the ``rfc8785``
package) and compares, including the awkward values.
"""

from __future__ import annotations

import hashlib
import json

import pytest
import rfc8785
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from gateway.audit import AuditEntry
from gateway.audit.verify import verify_engine
from gateway.store import Store
from tests.audit.tampering import tampering


def _plain_canonical(entry: AuditEntry) -> bytes:
    return rfc8785.dumps(
        {
            "action": entry.action,
            "actor": entry.actor,
            "details": entry.details,
            "entry_id": entry.entry_id,
            "exchange_id": entry.exchange_id,
            "hash_alg": "jcs-sha256",
            "recipient": entry.recipient,
            "recorded_at": entry.recorded_at,
        }
    )


def _plain_digest(entry: AuditEntry, prev_hash: str) -> str:
    return hashlib.sha256(prev_hash.encode() + _plain_canonical(entry)).hexdigest()


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
@pytest.mark.parametrize("prev_hash", ["0" * 64, hashlib.sha256(b"x").hexdigest()])
def test_digest_matches_the_plain_definition(entry: AuditEntry, prev_hash: str) -> None:
    assert entry.digest(prev_hash) == _plain_digest(entry, prev_hash)


def test_details_column_is_the_details_member_of_the_canonical_bytes() -> None:
    entry = ENTRIES[1]
    assert json.loads(entry.details_json) == entry.details
    assert list(json.loads(entry.details_json)) == ["a", "z"]
    assert entry.details_json.encode() == rfc8785.dumps(entry.details)
    assert f',"details":{entry.details_json},"entry_id":'.encode() in entry.canonical


def test_what_jcs_cannot_write_is_made_writable() -> None:
    """Keys that are not strings and integers beyond 2**53 still make an entry: as text."""
    entry = AuditEntry(action="collection", actor="p", details={"n": 2**70, "k": {1: "x"}})
    assert entry.details_json == '{"k":{"1":"x"},"n":"1180591620717411303424"}'
    assert entry.canonical == rfc8785.dumps(json.loads(entry.canonical))


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)


@given(details=st.dictionaries(st.text(max_size=8), _json, max_size=5), actor=st.text())
def test_the_fast_serialisation_is_rfc_8785(details, actor) -> None:
    """orjson where it agrees, rfc8785 elsewhere: always the RFC's bytes."""
    from gateway.audit.jcs import canonical, canonical_fast

    assert canonical_fast(details) == canonical(details)
    entry = AuditEntry(action="disclosure", actor=actor, details=details)
    assert entry.canonical == canonical(
        {**json.loads(entry.canonical), "details": details, "actor": actor}
    )
    assert json.loads(entry.canonical)["details"] == json.loads(entry.details_json)


def test_the_independent_verifier_accepts_awkward_entries(fresh_store: Store) -> None:
    from gateway.store.audit_log import append

    with fresh_store.transaction() as conn:
        append(conn, ENTRIES)
    assert verify_engine(fresh_store.engine).ok


def test_a_space_added_to_stored_details_is_a_change(fresh_store: Store) -> None:
    """The details column must be the canonical bytes' own text: re-spaced, it is a
    change, though the bytes hashed are untouched."""
    from gateway.store.audit_log import append

    with fresh_store.transaction() as conn:
        append(conn, ENTRIES)
    with tampering(fresh_store) as conn:
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
    """Entries written under older algorithms keep verifying by their own rule, and the
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
        assert list(algorithms) == ["sha256", "sha256"] + ["jcs-sha256"] * len(ENTRIES)


def test_details_orjson_could_write_are_written_as_it_did() -> None:
    """Call sites may put a datetime or a UUID in details, as orjson took them."""
    from datetime import UTC, datetime
    from uuid import UUID

    entry = AuditEntry(
        action="erasure",
        actor="gateway",
        details={"at": datetime(2026, 1, 1, tzinfo=UTC), "id": UUID(int=5)},
    )
    assert json.loads(entry.details_json) == {
        "at": "2026-01-01T00:00:00+00:00",
        "id": "00000000-0000-0000-0000-000000000005",
    }
