"""The transactional outbox: rows written with the exchange, published later.

A relay worker *claims* a batch of pending rows with a lease (``claimed_by``,
``claimed_until``). On PostgreSQL the claim uses ``FOR UPDATE SKIP LOCKED`` so
several workers never take the same row; on SQLite the ``BEGIN IMMEDIATE``
write lock gives the same guarantee. A worker that dies leaves its lease to
expire, and another worker takes the rows over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.store.tables import outbox


@dataclass(frozen=True)
class OutboxMessage:
    delivery_id: str
    exchange_id: str
    recipient: str
    channel: str  # "kafka" now; "webhook" joins it
    destination: str  # topic name or endpoint URL
    message_key: str
    payload: str
    headers: dict[str, str]
    priority: int = 0


def now() -> datetime:
    return datetime.now(UTC)


def enqueue(conn: Connection, messages: list[OutboxMessage]) -> None:
    if messages:
        created = now()
        conn.execute(
            outbox.insert(),
            [{**m.__dict__, "status": "pending", "created_at": created} for m in messages],
        )


def claim(conn: Connection, worker: str, limit: int, lease: timedelta) -> list[dict[str, Any]]:
    """Claim up to ``limit`` publishable rows, most urgent first, oldest first."""
    moment = now()
    candidates = (
        sa.select(outbox.c.id)
        .where(outbox.c.status == "pending")
        .where(sa.or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until < moment))
        .order_by(outbox.c.priority.desc(), outbox.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(conn.execute(candidates).scalars())
    if not ids:
        return []
    conn.execute(
        outbox.update()
        .where(outbox.c.id.in_(ids))
        .values(claimed_by=worker, claimed_until=moment + lease, attempts=outbox.c.attempts + 1)
    )
    rows = conn.execute(
        sa.select(outbox)
        .where(outbox.c.id.in_(ids))
        .order_by(outbox.c.priority.desc(), outbox.c.id)
    ).mappings()
    return [dict(r) for r in rows]


def mark_sent(conn: Connection, row_id: int, worker: str) -> bool:
    """Mark a claimed row sent; False if the lease was lost to another worker."""
    result = conn.execute(
        outbox.update()
        .where(outbox.c.id == row_id, outbox.c.claimed_by == worker, outbox.c.status == "pending")
        .values(status="sent", sent_at=now(), claimed_until=None, last_error=None)
    )
    return result.rowcount == 1


def release(conn: Connection, row_id: int, worker: str, error: str, retry_in: timedelta) -> None:
    """Give a row back after a failed publish, to be retried after ``retry_in``."""
    conn.execute(
        outbox.update()
        .where(outbox.c.id == row_id, outbox.c.claimed_by == worker)
        .values(claimed_until=now() + retry_in, last_error=error[:2000])
    )


def pending_count(conn: Connection) -> int:
    return int(
        conn.execute(
            sa.select(sa.func.count()).select_from(outbox).where(outbox.c.status == "pending")
        ).scalar_one()
    )
