"""Retention: rows the gateway keeps only while it needs them, then erases.

- A *sent outbox row* holds the minimised copy a recipient was sent. It is
  kept for the re-feed window (a broker that lost its data is re-fed from
  these rows), then erased: a copy of personal data is not kept longer than
  it is needed. Rows a dead letter refers to stay, with the dead letter.
- An *Idempotency-Key* and its stored answer. Partners retry within minutes;
  after the retention period the same key starts a new submission.
- A *received record's contents* (the exchange's envelope and case reference),
  for as long as the agreement says (``agreement.retention.exchanges``). The
  row stays with its decisions and ``erased_at``, so the audit trail's entries
  about it still name something; a record with a copy still to deliver waits.

Each batch's deletion and its ``erasure`` audit entry (DPA 2018 s62 lists
erasure among the operations to log) are one transaction, so the trail says
exactly what was erased and when. The exchange and the audit trail are not
pruned here: the audit trail is pruned only by the operator
(``prune_audit_trail``, ``gateway audit prune``), behind a signed anchor.

Expired outbox rows are found by walking the primary key from its low end
(the oldest rows) in pages, stopping at the first row created after the
cutoff: no index on ``sent_at`` is needed, which would cost every delivery
one more index entry.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.audit import Action, AuditEntry
from gateway.audit.signing import AuditKeys
from gateway.policy.model import parse_period
from gateway.settings import RetentionPolicy
from gateway.store.audit_log import append
from gateway.store.db import Store, as_utc
from gateway.store.tables import dead_letters, exchanges, idempotency_keys, outbox, unrouted

log = logging.getLogger(__name__)

#: Rows erased per transaction: each holds the audit chain's lock only briefly.
BATCH = 500
#: The first pass after start; later ones follow the configured interval.
FIRST_PASS_SECONDS = 60.0


@dataclass(frozen=True)
class Erased:
    """Rows erased by one pass (or, in a dry run, the rows that would be)."""

    sent_copies: int = 0
    idempotency_keys: int = 0
    exchanges: int = 0

    def __bool__(self) -> bool:
        return bool(self.sent_copies or self.idempotency_keys or self.exchanges)


def with_agreement(policy: RetentionPolicy, exchanges_period: str | None) -> RetentionPolicy:
    """The settings' periods, with the agreement's for received records ("2 years",
    ``agreement.retention.exchanges``; None keeps them until erased by hand)."""
    return replace(policy, exchanges=parse_period(exchanges_period) if exchanges_period else None)


def erasure_entry(actor: str, table: str, rows: int, **details: Any) -> AuditEntry:
    return AuditEntry(
        action=Action.ERASURE,
        actor=actor,
        details={"table": table, "rows": rows, "reason": "retention period ended", **details},
    )


def erase_expired(
    store: Store,
    policy: RetentionPolicy,
    *,
    now: datetime | None = None,
    actor: str = "gateway",
    dry_run: bool = False,
    batch: int = BATCH,
) -> Erased:
    """Erase what ``policy`` no longer keeps, ``batch`` rows a transaction."""
    now = now or datetime.now(UTC)
    return Erased(
        sent_copies=_erase_sent_copies(store, now - policy.sent_copies, actor, dry_run, batch),
        idempotency_keys=_erase_keys(store, now - policy.idempotency_keys, actor, dry_run, batch),
        exchanges=(
            _erase_exchanges(store, now - policy.exchanges, now, actor, dry_run, batch)
            if policy.exchanges is not None
            else 0
        ),
    )


#: What is left of an erased record: enough to say it was erased, nothing about anyone.
ERASED_ENVELOPE = {"erased": True}


def _erase_exchanges(
    store: Store, cutoff: datetime, now: datetime, actor: str, dry_run: bool, batch: int
) -> int:
    if dry_run:
        with store.engine.connect() as conn:
            count = sa.select(sa.func.count()).select_from(exchanges).where(_ERASABLE)
            return int(conn.execute(count, {"cutoff": cutoff}).scalar_one())
    erased = 0
    while True:
        with store.transaction() as conn:
            ids = list(conn.execute(_OLDEST_RECORDS, {"cutoff": cutoff, "limit": batch}).scalars())
            if ids:
                conn.execute(
                    exchanges.update()
                    .where(exchanges.c.exchange_id.in_(ids), exchanges.c.erased_at.is_(None))
                    .values(envelope=ERASED_ENVELOPE, case_reference=None, erased_at=now)
                )
                entry = erasure_entry(
                    actor,
                    "exchanges",
                    len(ids),
                    submitted_before=cutoff.isoformat(),
                    exchange_ids=ids,
                    erased="envelope, case_reference",
                )
                append(conn, [entry])
        erased += len(ids)
        if len(ids) < batch:
            return erased


# Past the period, not erased yet, and no copy of it still waiting to go (a pending
# copy is read from its own row, but it is still this record's).
_ERASABLE = sa.and_(
    exchanges.c.submitted_at < sa.bindparam("cutoff"),
    exchanges.c.erased_at.is_(None),
    ~sa.exists().where(outbox.c.exchange_id == exchanges.c.exchange_id, outbox.c.status != "sent"),
    # A record the coordinating team has still to route by hand is still needed.
    ~sa.exists().where(
        unrouted.c.exchange_id == exchanges.c.exchange_id, unrouted.c.status == "open"
    ),
)
_OLDEST_RECORDS = (
    sa.select(exchanges.c.exchange_id)
    .where(_ERASABLE)
    .order_by(exchanges.c.submitted_at)
    .limit(sa.bindparam("limit"))
)


def _erase_sent_copies(
    store: Store, cutoff: datetime, actor: str, dry_run: bool, batch: int
) -> int:
    erased = 0
    after = 0  # the primary key walked so far
    while True:
        # A dry run only reads: it takes no write lock from the gateway's own writers.
        with store.engine.connect() if dry_run else store.transaction() as conn:
            page = conn.execute(_OLDEST_ROWS, {"after": after, "limit": batch}).all()
            expired = [r for r in page if _expired(r, cutoff)]
            if expired and not dry_run:
                gone = list(conn.execute(_DELETE_SENT, {"ids": [r.id for r in expired]}).scalars())
                if gone:
                    entry = erasure_entry(
                        actor,
                        "outbox",
                        len(gone),
                        sent_before=cutoff.isoformat(),
                        delivery_ids=gone,
                    )
                    append(conn, [entry])
                expired = gone
        erased += len(expired)
        # Rows are created in id order, and none was sent before it was created:
        # past the first row created after the cutoff, nothing has expired.
        if len(page) < batch or any(as_utc(r.created_at) >= cutoff for r in page):
            return erased
        after = page[-1].id


_OLDEST_ROWS = (
    sa.select(
        outbox.c.id,
        outbox.c.delivery_id,
        outbox.c.status,
        outbox.c.sent_at,
        outbox.c.created_at,
        sa.exists().where(dead_letters.c.outbox_id == outbox.c.id).label("dead_lettered"),
    )
    .where(outbox.c.id > sa.bindparam("after"))
    .order_by(outbox.c.id)
    .limit(sa.bindparam("limit"))
)

# ``status = 'sent'`` again: a row re-fed since it was read is pending, not expired.
_DELETE_SENT = (
    outbox.delete()
    .where(outbox.c.id.in_(sa.bindparam("ids", expanding=True)), outbox.c.status == "sent")
    .returning(outbox.c.delivery_id)
)


def _expired(row: sa.Row[Any], cutoff: datetime) -> bool:
    return (
        row.status == "sent"
        and row.sent_at is not None
        and as_utc(row.sent_at) < cutoff
        and not row.dead_lettered
    )


def _erase_keys(store: Store, cutoff: datetime, actor: str, dry_run: bool, batch: int) -> int:
    if dry_run:
        with store.engine.connect() as conn:
            return int(conn.execute(_COUNT_KEYS, {"cutoff": cutoff}).scalar_one())
    erased = 0
    while True:
        with store.transaction() as conn:
            keys = conn.execute(_OLDEST_KEYS, {"cutoff": cutoff, "limit": batch}).all()
            if keys:
                _delete_keys(conn, keys)
                append(
                    conn,
                    [
                        erasure_entry(
                            actor, "idempotency_keys", len(keys), created_before=cutoff.isoformat()
                        )
                    ],
                )
        erased += len(keys)
        if len(keys) < batch:
            return erased


_EXPIRED_KEY = idempotency_keys.c.created_at < sa.bindparam("cutoff")
_OLDEST_KEYS = (
    sa.select(idempotency_keys.c.partner, idempotency_keys.c.key)
    .where(_EXPIRED_KEY)
    .order_by(idempotency_keys.c.created_at)
    .limit(sa.bindparam("limit"))
)
_COUNT_KEYS = sa.select(sa.func.count()).select_from(idempotency_keys).where(_EXPIRED_KEY)


def _delete_keys(conn: Connection, keys: Sequence[sa.Row[Any, Any]]) -> None:
    conn.execute(
        idempotency_keys.delete().where(
            sa.tuple_(idempotency_keys.c.partner, idempotency_keys.c.key).in_(
                [(k.partner, k.key) for k in keys]
            )
        )
    )


def keep_erasing(
    store: Store,
    policy: Callable[[], RetentionPolicy],
    stop: threading.Event,
    interval_seconds: float,
) -> None:
    """Erase expired rows every ``interval_seconds`` until ``stop`` is set, by the
    periods in force at each pass (the agreement's may change with the policy). A
    pass that fails (the store down) is logged and tried again at the next interval."""
    wait = min(FIRST_PASS_SECONDS, interval_seconds)
    while not stop.wait(wait):
        wait = interval_seconds
        try:
            erased = erase_expired(store, policy())
        except Exception as exc:
            log.warning("retention pass failed, will try again: %s", exc)
            continue
        if erased:
            log.info(
                "retention: erased %d sent copies, %d idempotency keys and %d records",
                erased.sent_copies,
                erased.idempotency_keys,
                erased.exchanges,
            )


# -- the audit trail ------------------------------------------------------------------


@dataclass(frozen=True)
class AuditPruned:
    """Entries pruned from the audit trail, and the anchor checkpoint that replaced them."""

    entries: int
    first_kept: int
    anchor_id: int | None


def prune_audit_trail(
    store: Store,
    keys: AuditKeys,
    recorded_before: datetime,
    *,
    actor: str,
) -> AuditPruned:
    """Prune the audit entries recorded before ``recorded_before`` (never the newest),
    keeping every checkpoint verifiable: a signed *anchor* checkpoint states where
    the log now begins and the hash its first entry links to, and ``gateway audit
    verify`` starts there. The whole store is verified first, so a pruning never
    launders a tampered entry out of sight; the pruning is audited (an erasure).

    On PostgreSQL the audit table refuses deletes (migration 0016) except through
    ``isg_audit_prune``, which only the operator's role (the tables' owner) may run.
    """
    from gateway.audit.checkpoints import (
        CheckpointRefused,
        check_since,
        insert_checkpoint,
        latest_checkpoint,
        read_span,
        span_after,
        statement_for,
        verify_store,
    )

    key = keys.current
    if key is None:
        raise ValueError("no audit signing key is held: the anchor cannot be signed")
    report = verify_store(store.engine, keys, check_decisions=False)
    if report.finding is not None:
        raise CheckpointRefused(report.finding)
    cutoff = recorded_before.astimezone(UTC).isoformat(timespec="microseconds")
    with store.transaction() as conn:
        suffix = " FOR UPDATE" if conn.dialect.name == "postgresql" else ""
        head_seq, head_hash = conn.execute(
            sa.text(f"SELECT seq, hash FROM audit_head WHERE id = 1{suffix}")
        ).one()
        first_kept = conn.execute(
            sa.text("SELECT min(seq) FROM audit_log WHERE recorded_at >= :cutoff"),
            {"cutoff": cutoff},
        ).scalar_one()
        first_kept = min(int(first_kept) if first_kept is not None else head_seq, head_seq)
        first_now = conn.execute(sa.text("SELECT min(seq) FROM audit_log")).scalar_one()
        if first_now is None or first_kept <= int(first_now):
            return AuditPruned(0, int(first_now or 1), None)
        previous = latest_checkpoint(conn)
        first_seq, first_prev = (
            (previous.first_seq, str(previous.fields["first_prev_hash"]))
            if previous is not None
            else (1, "0" * 64)
        )
        check_since(conn, keys, previous, first_seq, first_prev, head_seq, head_hash)
        anchor_prev = conn.execute(
            sa.text("SELECT prev_hash FROM audit_log WHERE seq = :s"), {"s": first_kept}
        ).scalar_one()
        after = span_after(previous, first_seq)
        span = read_span(conn, after, head_seq)
        statement = statement_for(
            key,
            "anchor",
            first_seq=first_kept,
            first_prev_hash=anchor_prev,
            upto_seq=head_seq,
            head_hash=head_hash,
            previous=previous,
            span=span,
            span_from=after + 1,
        )
        anchor_id = insert_checkpoint(conn, key, "anchor", statement, span)
        if conn.dialect.name == "postgresql":
            gone = conn.execute(
                sa.text("SELECT isg_audit_prune(:k)"), {"k": first_kept}
            ).scalar_one()
        else:
            gone = conn.execute(
                sa.text("DELETE FROM audit_log WHERE seq < :k"), {"k": first_kept}
            ).rowcount
        append(
            conn,
            [
                erasure_entry(
                    actor,
                    "audit_log",
                    int(gone),
                    recorded_before=cutoff,
                    first_kept=first_kept,
                    anchor_checkpoint=anchor_id,
                )
            ],
        )
    return AuditPruned(int(gone), first_kept, anchor_id)
