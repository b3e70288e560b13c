"""Writing the tamper-evident audit trail (DPA 2018 s62 logging).

Each entry records what s62 asks: the operation (collection, disclosure,
refusal, transmission ...), when, who did it, who received it, and the
justification (purpose, lawful basis, the rules that decided). Field *paths*
disclosed and removed are recorded, never field values.

Entries form a hash chain: ``hash = SHA-256(prev_hash || canonical_json(entry))``
where the entry is every column but ``seq`` and ``hash``. The algorithm is named
in each entry (``hash_alg``) so a later algorithm can take over mid-chain.
The verifier (``gateway.audit.verify``) re-implements this independently.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.store.tables import audit_head, audit_log

HASH_ALG = "sha256"
# Built once: statements reused with parameters skip SQLAlchemy's per-call construction.
_INSERT_ENTRIES = audit_log.insert()
_LOCK_HEAD = (
    sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()
)
_MOVE_HEAD = (
    audit_head.update()
    .where(audit_head.c.id == 1)
    .values(seq=sa.bindparam("new_seq"), hash=sa.bindparam("new_hash"))
)
GENESIS = "0" * 64


class Action:
    """s62 operations, plus the gateway's own decision outcomes."""

    COLLECTION = "collection"
    DISCLOSURE = "disclosure"  # a permit: the record will be disclosed
    REFUSAL = "refusal"  # a deny: the recipient gets nothing
    TRANSMISSION = "transmission"  # the disclosed record left the gateway


@dataclass(frozen=True)
class AuditEntry:
    action: str
    actor: str
    details: dict[str, Any]
    exchange_id: str | None = None
    recipient: str | None = None
    entry_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    recorded_at: str = field(
        default_factory=lambda: datetime.now(UTC).isoformat(timespec="microseconds")
    )


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _hashed_fields(entry: AuditEntry, prev_hash: str) -> dict[str, Any]:
    return {
        "entry_id": entry.entry_id,
        "recorded_at": entry.recorded_at,
        "action": entry.action,
        "actor": entry.actor,
        "recipient": entry.recipient,
        "exchange_id": entry.exchange_id,
        "details": entry.details,
        "hash_alg": HASH_ALG,
        "prev_hash": prev_hash,
    }


def _digest(fields: dict[str, Any]) -> str:
    return hashlib.sha256(
        (fields["prev_hash"] + canonical_json(fields)).encode("utf-8")
    ).hexdigest()


def append(conn: Connection, entries: list[AuditEntry]) -> list[int]:
    """Append entries to the chain inside the caller's transaction.

    The head row (seeded by migration 0003) is locked with ``FOR UPDATE``;
    SQLite's ``BEGIN IMMEDIATE`` does the same. So concurrent writers extend
    the chain one after another, and the lock is held for one batch insert.
    """
    if not entries:
        return []
    head = conn.execute(
        sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()
    ).one()
    seq, prev_hash = head.seq, head.hash
    rows = []
    for entry in entries:
        seq += 1
        fields = _hashed_fields(entry, prev_hash)
        digest = _digest(fields)
        rows.append(
            {
                "seq": seq,
                "entry_id": entry.entry_id,
                "recorded_at": entry.recorded_at,
                "action": entry.action,
                "actor": entry.actor,
                "recipient": entry.recipient,
                "exchange_id": entry.exchange_id,
                "details": canonical_json(entry.details),
                "hash_alg": HASH_ALG,
                "prev_hash": prev_hash,
                "hash": digest,
            }
        )
        prev_hash = digest
    conn.execute(_INSERT_ENTRIES, rows)
    conn.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": prev_hash})
    return [r["seq"] for r in rows]
