"""The transactional outbox: rows written with the exchange, published later.

A relay worker *claims* a batch of pending rows with a lease (``claimed_by``,
``claimed_until``). On PostgreSQL the claim uses ``FOR UPDATE SKIP LOCKED`` so
several workers never take the same row; on SQLite the ``BEGIN IMMEDIATE``
write lock gives the same guarantee. A worker that dies leaves its lease to
expire, and another worker takes the rows over.

Order: rows with the same destination and message key (one person's records
for one recipient) form a queue, and only the head of each queue can be
claimed. The next row becomes claimable once the head is sent or
dead-lettered, so order per recipient and subject holds with any number of
workers, while different subjects go out in parallel.

Lanes: a relay's urgent lane claims only urgent rows (priority above 0), its
ordinary lane only the rest, so an alert never waits behind a batch of
ordinary rows. The urgent lane also takes the rows queued behind each head it
claims (one subject's consecutive urgent rows), which the relay then sends in
order, each after the one before it was delivered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.dml import ReturningUpdate

from gateway import jsontext
from gateway.store.tables import INSERT_OUTBOX, dead_letters, insert_rows, outbox


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


#: ``status = 'pending'`` written out, not bound: the outbox's queue indexes hold only
#: pending rows, and a database uses such an index only for a query that says so.
_PENDING_VALUE: sa.ColumnClause[str] = sa.literal_column("'pending'")
PENDING = outbox.c.status == _PENDING_VALUE


def outbox_rows(messages: list[OutboxMessage]) -> list[dict[str, Any]]:
    """Rows for ``enqueue``, serialised ahead of the transaction that inserts them."""
    created = now()
    return [
        {
            **m.__dict__,
            "headers": jsontext.dumps(m.headers),
            "status": "pending",
            "created_at": created,
        }
        for m in messages
    ]


def enqueue(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert rows made by ``outbox_rows``."""
    insert_rows(conn, INSERT_OUTBOX, rows)


#: Which rows a claim takes: any (most urgent first), urgent only, or ordinary only.
Lane = Literal["any", "urgent", "ordinary"]


def _claim_statements(lane: Lane = "any") -> tuple[sa.Select[tuple[int]], ReturningUpdate[Any]]:
    """The claim, built once and reused with parameters: the candidates (queue
    heads, most urgent first, oldest first, rows locked by another worker skipped)
    and the one UPDATE that takes them and returns them."""
    earlier = outbox.alias("earlier")
    is_queue_head = ~sa.exists().where(
        earlier.c.destination == outbox.c.destination,
        earlier.c.message_key == outbox.c.message_key,
        earlier.c.status == _PENDING_VALUE,
        earlier.c.id < outbox.c.id,
    )
    moment = sa.bindparam("moment", type_=sa.DateTime(timezone=True))
    lanes = {"urgent": [outbox.c.priority > 0], "ordinary": [outbox.c.priority == 0]}
    candidates = (
        sa.select(outbox.c.id)
        .where(PENDING, outbox.c.channel == sa.bindparam("of_channel"))
        .where(sa.or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until < moment))
        .where(is_queue_head, *lanes.get(lane, []))
        .order_by(outbox.c.priority.desc(), outbox.c.id)
        .limit(sa.bindparam("limit", type_=sa.Integer))
        .with_for_update(skip_locked=True)
    )
    take = (
        outbox.update()
        .where(outbox.c.id.in_(candidates.scalar_subquery()))
        .values(
            claimed_by=sa.bindparam("worker"),
            claimed_until=sa.bindparam("until", type_=sa.DateTime(timezone=True)),
            attempts=outbox.c.attempts + 1,
        )
        .returning(*outbox.c)
    )
    return candidates, take


_CANDIDATES, _TAKE = _claim_statements()
_LANES = {
    "any": _TAKE,
    "urgent": _claim_statements("urgent")[1],
    "ordinary": _claim_statements("ordinary")[1],
}


def _followers_statement() -> ReturningUpdate[Any]:
    """Urgent rows queued behind heads this very claim took (its worker and lease end
    say which): each row whose every earlier pending row in its queue is either
    taken by this claim or free and urgent itself, so the rows taken are always
    the front of their queue, in order."""
    moment = sa.bindparam("moment", type_=sa.DateTime(timezone=True))
    until = sa.bindparam("until", type_=sa.DateTime(timezone=True))
    worker: sa.BindParameter[str] = sa.bindparam("worker")
    head, earlier = outbox.alias("head"), outbox.alias("earlier")

    def free(t: Any) -> sa.ColumnElement[bool]:
        return sa.or_(t.c.claimed_until.is_(None), t.c.claimed_until < moment)

    def this_claim(t: Any) -> sa.ColumnElement[bool]:
        return sa.and_(
            t.c.claimed_until.is_not(None),
            t.c.claimed_by.is_not(None),
            t.c.claimed_by == worker,
            t.c.claimed_until == until,
        )

    def same_queue(t: Any) -> list[sa.ColumnElement[bool]]:
        return [
            t.c.destination == outbox.c.destination,
            t.c.message_key == outbox.c.message_key,
            t.c.status == _PENDING_VALUE,
            t.c.id < outbox.c.id,
        ]

    candidates = (
        sa.select(outbox.c.id)
        .where(PENDING, outbox.c.channel == sa.bindparam("of_channel"), outbox.c.priority > 0)
        .where(free(outbox))
        .where(sa.exists().where(*same_queue(head), this_claim(head)))
        .where(
            ~sa.exists().where(
                *same_queue(earlier),
                ~this_claim(earlier),
                ~sa.and_(earlier.c.priority > 0, free(earlier)),
            )
        )
        .order_by(outbox.c.id)
        .limit(sa.bindparam("limit", type_=sa.Integer))
        .with_for_update(skip_locked=True)
    )
    return (
        outbox.update()
        .where(outbox.c.id.in_(candidates.scalar_subquery()))
        .values(claimed_by=worker, claimed_until=until, attempts=outbox.c.attempts + 1)
        .returning(*outbox.c)
    )


_FOLLOWERS = _followers_statement()


_READY = (
    sa.select(outbox.c.id)
    .where(PENDING, outbox.c.channel == sa.bindparam("channel"))
    .where(
        sa.or_(
            outbox.c.claimed_until.is_(None),
            outbox.c.claimed_until < sa.bindparam("moment", type_=sa.DateTime(timezone=True)),
        )
    )
    .limit(1)
)


_READY_IN = {
    "any": _READY,
    "urgent": _READY.where(outbox.c.priority > 0),
    "ordinary": _READY.where(outbox.c.priority == 0),
}


def has_ready(conn: Connection, channel: str, lane: Lane = "any") -> bool:
    """Whether a row of ``channel`` may be claimable now: a read, no lock taken."""
    query = _READY_IN[lane]
    return conn.execute(query, {"channel": channel, "moment": now()}).first() is not None


def claim(
    conn: Connection,
    worker: str,
    limit: int,
    lease: timedelta,
    channel: str = "kafka",
    lane: Lane = "any",
) -> list[dict[str, Any]]:
    """Claim up to ``limit`` queue heads of ``channel``, most urgent first, oldest first;
    in the urgent lane, also the urgent rows queued right behind them."""
    moment = now()
    params = {
        "moment": moment,
        "of_channel": channel,
        "limit": limit,
        "worker": worker,
        "until": moment + lease,
    }
    # One statement takes and returns the rows, in no particular order: put them in
    # claim order again.
    taken = [dict(r) for r in conn.execute(_LANES[lane], params).mappings()]
    if lane == "urgent" and taken and len(taken) < limit:
        more = conn.execute(_FOLLOWERS, {**params, "limit": limit - len(taken)})
        taken += [dict(r) for r in more.mappings()]
    return sorted(taken, key=_claim_order)


def _claim_order(row: dict[str, Any]) -> tuple[int, int]:
    return -row["priority"], row["id"]


def _held_by(worker: str | sa.BindParameter[str]) -> sa.ColumnElement[bool]:
    """Rows ``worker`` has claimed and that are still pending.

    Said without naming the status: a claim sets claimed_until, and every way out
    of pending (sent, dead, handed back) clears it. With status = 'pending' in a
    by-id statement, PostgreSQL served it from a pending-only index whose first
    column is not the id, reading that whole index once per id (over two thousand
    index scans a second under load, when marking batches sent).
    """
    return sa.and_(outbox.c.claimed_by == worker, outbox.c.claimed_until.is_not(None))


_MARK_SENT = (
    outbox.update()
    .where(outbox.c.id.in_(sa.bindparam("ids", expanding=True)))
    .where(_held_by(sa.bindparam("worker")))
    .values(
        status="sent",
        sent_at=sa.bindparam("sent_at", type_=sa.DateTime(timezone=True)),
        claimed_until=None,
        last_error=None,
    )
    .returning(outbox.c.id)
)


def mark_all_sent(conn: Connection, row_ids: list[int], worker: str) -> set[int]:
    """Mark claimed rows sent in one statement; return the ids this worker still held."""
    if not row_ids:
        return set()
    result = conn.execute(_MARK_SENT, {"ids": row_ids, "worker": worker, "sent_at": now()})
    return set(result.scalars())


def unclaim(conn: Connection, row_ids: list[int], worker: str) -> None:
    """Hand back claimed rows that were never attempted (the claim counted one)."""
    conn.execute(
        outbox.update()
        .where(outbox.c.id.in_(row_ids), _held_by(worker))
        .values(claimed_by=None, claimed_until=None, attempts=outbox.c.attempts - 1)
    )


def release(conn: Connection, row_id: int, worker: str, error: str, retry_in: timedelta) -> None:
    """Give a row back after a failed publish, to be retried after ``retry_in``."""
    conn.execute(
        outbox.update()
        .where(outbox.c.id == row_id, outbox.c.claimed_by == worker)
        .values(claimed_until=now() + retry_in, last_error=error[:2000])
    )


def pending_count(conn: Connection) -> int:
    return int(
        conn.execute(sa.select(sa.func.count()).select_from(outbox).where(PENDING)).scalar_one()
    )


def backlog(conn: Connection) -> tuple[int, datetime | None]:
    """How many rows wait, and when the oldest of them was committed (None: none wait);
    one read of the pending rows' index."""
    count, oldest = conn.execute(
        sa.select(sa.func.count(), sa.func.min(outbox.c.created_at)).where(PENDING)
    ).one()
    if isinstance(oldest, str):  # SQLite's MIN() hands back the stored text
        oldest = datetime.fromisoformat(oldest)
    return int(count), oldest


def open_dead_letters(conn: Connection) -> int:
    """Dead letters not replayed yet: deliveries that wait for an operator."""
    query = sa.select(sa.func.count()).where(dead_letters.c.replayed_at.is_(None))
    return int(conn.execute(query).scalar_one())


def dead_letter(conn: Connection, row: dict[str, Any], worker: str, reason: str) -> bool:
    """Move a claimed row to the dead-letter table after its last attempt."""
    moved = conn.execute(
        outbox.update()
        .where(outbox.c.id == row["id"], _held_by(worker))
        .values(status="dead", claimed_until=None, last_error=reason[:2000])
    ).rowcount
    if moved != 1:
        return False
    conn.execute(
        dead_letters.insert().values(
            outbox_id=row["id"],
            delivery_id=row["delivery_id"],
            exchange_id=row["exchange_id"],
            recipient=row["recipient"],
            channel=row["channel"],
            destination=row["destination"],
            attempts=row["attempts"],
            reason=reason[:4000],
            dead_at=now(),
        )
    )
    return True


def list_dead_letters(conn: Connection, *, replayed: bool = False) -> list[sa.RowMapping]:
    """The open dead letters, oldest first; with ``replayed``, the replayed ones too."""
    query = sa.select(dead_letters).order_by(dead_letters.c.id)
    if not replayed:
        query = query.where(dead_letters.c.replayed_at.is_(None))
    return list(conn.execute(query).mappings().all())


def get_dead_letter(conn: Connection, dead_letter_id: int) -> sa.RowMapping | None:
    """One dead letter, open or replayed."""
    query = sa.select(dead_letters).where(dead_letters.c.id == dead_letter_id)
    return conn.execute(query).mappings().first()


def replay(conn: Connection, dead_letter_id: int | None = None) -> list[sa.RowMapping]:
    """Put dead letters (one, or every open one) back in the outbox; return their rows."""
    query = sa.select(dead_letters).where(dead_letters.c.replayed_at.is_(None))
    if dead_letter_id is not None:
        query = query.where(dead_letters.c.id == dead_letter_id)
    rows = conn.execute(query.order_by(dead_letters.c.id)).mappings().all()
    for row in rows:
        conn.execute(
            outbox.update()
            .where(outbox.c.id == row["outbox_id"], outbox.c.status == "dead")
            .values(status="pending", attempts=0, claimed_by=None, claimed_until=None)
        )
        conn.execute(
            dead_letters.update().where(dead_letters.c.id == row["id"]).values(replayed_at=now())
        )
    return list(rows)


def requeue_sent(conn: Connection, destinations: list[str], since: datetime) -> int:
    """Mark rows sent to ``destinations`` since ``since`` pending again: the broker lost them."""
    return conn.execute(
        outbox.update()
        .where(
            outbox.c.status == "sent",
            outbox.c.destination.in_(destinations),
            outbox.c.sent_at >= since,
        )
        .values(status="pending", claimed_by=None, claimed_until=None, attempts=0)
    ).rowcount
