"""Idempotent submission: a repeated POST with the same ``Idempotency-Key`` gets
the original answer and creates nothing new; the same key with another body is
a conflict.

The key is claimed before the pipeline runs (a row with no answer yet), so two
concurrent requests with one key cannot both go through. The answer is written
in the same transaction as the submission's exchanges (all of a batch's), so a
crash can never leave an exchange kept without its answer. A client error
releases the key (nothing was kept, so the partner may fix the body and retry).
A claim with no answer after ``STALE_AFTER`` (a crash before any commit) is
taken over.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from gateway.errors import IdempotencyConflict, InvalidIdempotencyKey
from gateway.store import Store
from gateway.store.db import as_utc
from gateway.store.tables import idempotency_keys

STALE_AFTER = timedelta(seconds=60)
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class StoredAnswer:
    status_code: int
    body: dict[str, Any]


def body_hash(fmt: str, media_type: str | None, body: bytes) -> str:
    digest = hashlib.sha256()
    digest.update(f"{fmt}\0{(media_type or '').split(';')[0].strip().lower()}\0".encode())
    digest.update(body)
    return digest.hexdigest()


def _where(partner: str, key: str) -> sa.ColumnElement[bool]:
    return sa.and_(idempotency_keys.c.partner == partner, idempotency_keys.c.key == key)


def claim(store: Store, partner: str, key: str, request_hash: str) -> StoredAnswer | None:
    """Claim ``key`` for this request; return the stored answer if it was answered already."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidIdempotencyKey(f"use 1 to {MAX_KEY_LENGTH} printable characters")
    now = datetime.now(UTC)
    try:
        with store.transaction() as conn:
            row = (
                conn.execute(
                    sa.select(idempotency_keys).where(_where(partner, key)).with_for_update()
                )
                .mappings()
                .first()
            )
            if row is None:
                conn.execute(
                    idempotency_keys.insert().values(
                        partner=partner, key=key, request_sha256=request_hash, created_at=now
                    )
                )
                return None
            if row["request_sha256"] != request_hash:
                raise IdempotencyConflict(
                    "this Idempotency-Key was used with a different request body"
                )
            if row["status_code"] is not None:
                return StoredAnswer(row["status_code"], row["response"])
            if now - as_utc(row["created_at"]) < STALE_AFTER:
                raise IdempotencyConflict("a request with this Idempotency-Key is in progress")
            conn.execute(
                idempotency_keys.update().where(_where(partner, key)).values(created_at=now)
            )
            return None
    except IntegrityError:
        raise IdempotencyConflict("a request with this Idempotency-Key is in progress") from None


def record_answer(
    conn: Connection, partner: str, key: str, status_code: int, body: dict[str, Any]
) -> None:
    conn.execute(
        idempotency_keys.update()
        .where(_where(partner, key))
        .values(status_code=status_code, response=body)
    )


def release(store: Store, partner: str, key: str) -> None:
    with store.transaction() as conn:
        conn.execute(
            idempotency_keys.delete().where(
                _where(partner, key), idempotency_keys.c.status_code.is_(None)
            )
        )
