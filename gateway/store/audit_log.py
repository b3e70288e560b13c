"""Appending to the audit chain: the SQL that serialises writers at the chain's head.

The entries and their digests are built by ``gateway.audit.chain``; this module
only finds the head, inserts the new rows after it and moves it, inside the
caller's transaction.
"""

from __future__ import annotations

import weakref

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gateway.audit.chain import AuditEntry, Sealer, chain_rows
from gateway.store import postgres
from gateway.store.tables import audit_head, audit_log

_INSERT_ENTRIES = audit_log.insert()
_LOCK_HEAD = (
    sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()
)
_MOVE_HEAD = (
    audit_head.update()
    .where(audit_head.c.id == 1)
    .values(seq=sa.bindparam("new_seq"), hash=sa.bindparam("new_hash"))
)
_LOCK_HEAD_TEXT = postgres.as_text(_LOCK_HEAD)
_MOVE_HEAD_TEXT = postgres.as_text(_MOVE_HEAD)
#: Seals each appended entry (``gateway.audit.signing``): by the store's engine, else
#: the process's default. Set by whatever holds the key.
_sealer: Sealer | None = None
_sealers: weakref.WeakKeyDictionary[Engine, Sealer] = weakref.WeakKeyDictionary()


def use_sealer(sealer: Sealer | None, engine: Engine | None = None) -> None:
    """Seal every entry appended from now on with ``sealer`` (the signing key's
    ``seal``): through ``engine``'s connections, or by default in this process. The
    gateway and the commands that append call it at start, so a forged entry,
    unsealed, is told apart (``gateway.audit.checkpoints``)."""
    global _sealer
    if engine is None:
        _sealer = sealer
    elif sealer is None:
        _sealers.pop(engine, None)
    else:
        _sealers[engine] = sealer


def _sealer_for(conn: Connection) -> Sealer | None:
    return _sealers.get(conn.engine, _sealer)


def append(conn: Connection, entries: list[AuditEntry]) -> list[int]:
    """Append ``entries`` to the chain inside the caller's transaction; their ``seq``.

    The head row (seeded by migration 0003) is locked with ``FOR UPDATE``;
    SQLite's ``BEGIN IMMEDIATE`` does the same. So concurrent writers extend
    the chain one after another, and the lock is held until the caller
    commits: append last in a transaction. On PostgreSQL the statements go in
    the transaction's pipeline (``postgres.shared_round_trips``).
    """
    if not entries:
        return []
    if conn.dialect.name == "postgresql":
        with postgres.shared_round_trips(conn):
            seq, prev_hash = postgres.fetch_one(conn, _LOCK_HEAD_TEXT)
            rows, new_head = chain_rows(entries, seq, prev_hash, _sealer_for(conn))
            postgres.insert_rows(conn, audit_log, rows)
            postgres.execute(conn, _MOVE_HEAD_TEXT, **new_head)
    else:
        seq, prev_hash = conn.execute(_LOCK_HEAD).one()
        rows, new_head = chain_rows(entries, seq, prev_hash, _sealer_for(conn))
        conn.execute(_INSERT_ENTRIES, rows)
        conn.execute(_MOVE_HEAD, new_head)
    return [r["seq"] for r in rows]
