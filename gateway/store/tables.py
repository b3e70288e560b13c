"""The store's tables (SQLAlchemy Core). Migrations in ``migrations/`` create them.

The store is the durable record: the broker is a transport that the outbox
relay can always re-feed from here.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from gateway.store import postgres

metadata = sa.MetaData()


class SerialisedJSON(sa.types.TypeDecorator[str]):
    """A JSON column's value bound as text someone already serialised.

    The hot inserts serialise their JSON before the transaction starts, so the
    store's write lock (and the audit chain's) is not held while encoding.
    """

    impl = sa.JSON
    cache_ok = True

    def bind_processor(self, dialect: sa.Dialect) -> None:
        return None


def insert_serialised(table: sa.Table, *json_columns: str) -> sa.Insert:
    """An INSERT taking ``json_columns`` as serialised text (see ``SerialisedJSON``)."""
    return table.insert().values({c: sa.bindparam(c, type_=SerialisedJSON) for c in json_columns})


def insert_rows(conn: sa.Connection, insert: sa.Insert, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (all with the same keys) with ``insert`` (JSON columns serialised
    already, as ``insert_serialised`` takes them).

    On PostgreSQL all the rows are one statement (``postgres.insert_rows``);
    elsewhere ``executemany``.
    """
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        postgres.insert_rows(conn, insert.table, rows)  # type: ignore[arg-type]
    else:
        conn.execute(insert, rows)


exchanges = sa.Table(
    "exchanges",
    metadata,
    sa.Column("exchange_id", sa.String(36), primary_key=True),
    sa.Column("source_partner", sa.String(64), nullable=False),
    sa.Column("format", sa.String(32), nullable=False),
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("purpose", sa.String(64), nullable=False),
    sa.Column("urgency", sa.String(16), nullable=False),
    sa.Column("case_reference", sa.String(64)),
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("policy_version", sa.String(80), nullable=False),
    sa.Column("envelope", sa.JSON, nullable=False),
    # Every recipient's decision record, in the order decided. One column rather than
    # a row per recipient: ten rows an exchange cost more to write than the rest of it.
    sa.Column("decisions", sa.JSON, nullable=False, server_default=sa.text("'[]'")),
    # The exchange this one corrects (a correction's copies go to its recipients).
    sa.Column("corrects", sa.String(36), index=True),
    # When the sender withdrew it: every recipient was told, and it is never corrected.
    sa.Column("withdrawn_at", sa.DateTime(timezone=True)),
    # When its contents were erased at the end of the agreement's retention period.
    sa.Column("erased_at", sa.DateTime(timezone=True)),
)

#: Records a flow would have routed by a place they do not give (no fixed abode),
#: kept for the coordinating team to route by hand (``gateway.api.unrouted``).
unrouted = sa.Table(
    "unrouted",
    metadata,
    sa.Column(
        "exchange_id", sa.String(36), sa.ForeignKey("exchanges.exchange_id"), primary_key=True
    ),
    sa.Column("recipients", sa.JSON, nullable=False),  # the candidates, in decision order
    sa.Column("flow", sa.String(128), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # open | routed
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("routed_by", sa.String(160)),
    sa.Column("routed_to", sa.String(64)),
    sa.Column("routed_at", sa.DateTime(timezone=True)),
    sa.Index("ix_unrouted_open", "status", "created_at"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("entry_id", sa.String(36), nullable=False, unique=True),
    sa.Column("recorded_at", sa.String(40), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("recipient", sa.String(64)),
    sa.Column("exchange_id", sa.String(36), index=True),
    sa.Column("details", sa.Text, nullable=False),
    sa.Column("hash_alg", sa.String(16), nullable=False),
    sa.Column("prev_hash", sa.String(128), nullable=False),
    sa.Column("hash", sa.String(128), nullable=False),
    # The entry's RFC 8785 bytes, which jcs-sha256 hashes (null for older entries),
    # and its seal (``key_id:HMAC``) by the gateway's key (gateway.audit.signing).
    sa.Column("canonical", sa.LargeBinary),
    sa.Column("seal", sa.String(96)),
)

#: Signed statements of the chain's state: ``statement`` (RFC 8785 bytes) names the
#: last entry covered, its hash and the first entry kept; ``signature`` is Ed25519
#: by ``key_id`` (gateway.audit.checkpoints).
audit_checkpoints = sa.Table(
    "audit_checkpoints",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("upto_seq", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("key_id", sa.String(16), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("statement", sa.LargeBinary, nullable=False),
    sa.Column("signature", sa.String(100), nullable=False),
    # The raw SHA-256 hashes of the entries it newly covers, in order (migration 0017).
    sa.Column("span", sa.LargeBinary),
)

# One row: the newest audit entry. Locking it serialises appends to the chain.
audit_head = sa.Table(
    "audit_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(128), nullable=False),
)

#: The outbox's partial indexes cover pending rows only.
_PENDING_ONLY = sa.text("status = 'pending'")

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", sa.String(36), nullable=False, unique=True),
    sa.Column("exchange_id", sa.String(36), sa.ForeignKey("exchanges.exchange_id"), nullable=False),
    sa.Column("recipient", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("destination", sa.String(255), nullable=False),
    sa.Column("message_key", sa.String(128), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("headers", sa.JSON, nullable=False),
    sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("claimed_by", sa.String(64)),
    sa.Column("claimed_until", sa.DateTime(timezone=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    sa.Column("last_error", sa.Text),
    # Both indexes hold pending rows only, so they stay as small as the backlog however
    # long the outbox's history grows. The queue index is in claim order (most urgent
    # first, then oldest), so a claim reads its batch off the front instead of sorting
    # every pending row. Queries must say ``status = 'pending'`` as a literal (PENDING
    # in outbox.py) for the database to use them.
    sa.Index(
        "ix_outbox_queue",
        sa.text("priority DESC"),
        "id",
        sqlite_where=_PENDING_ONLY,
        postgresql_where=_PENDING_ONLY,
    ),
    sa.Index(
        "ix_outbox_subject_queue",
        "destination",
        "message_key",
        "id",
        sqlite_where=_PENDING_ONLY,
        postgresql_where=_PENDING_ONLY,
    ),
)

# Deliveries that ran out of attempts, with the reason; replay puts them back.
dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("outbox_id", sa.Integer, sa.ForeignKey("outbox.id"), nullable=False),
    sa.Column("delivery_id", sa.String(36), nullable=False),
    sa.Column("exchange_id", sa.String(36), nullable=False),
    sa.Column("recipient", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("destination", sa.String(255), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("dead_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("replayed_at", sa.DateTime(timezone=True)),
    sa.Index("ix_dead_letters_open", "replayed_at", "id"),
    # Retention keeps outbox rows a dead letter refers to, and asks for each.
    sa.Index("ix_dead_letters_outbox_id", "outbox_id"),
)

# A partner's Idempotency-Key and the answer it got, so a retry gets the same answer.
idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("partner", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("request_sha256", sa.String(64), nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("response", sa.JSON),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # Retention erases keys oldest first (``gateway/store/retention.py``).
    sa.Index("ix_idempotency_keys_created_at", "created_at"),
)

# Client assertions (RFC 7523) already used, so a replayed one is refused; kept
# until they expire, when they could not be used anyway.
used_assertions = sa.Table(
    "used_assertions",
    metadata,
    sa.Column("client_id", sa.String(128), primary_key=True),
    sa.Column("jti", sa.String(255), primary_key=True),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_used_assertions_expires_at", "expires_at"),
)

#: The hot inserts: an exchange, and the copies it queues for delivery.
#: One acknowledgement clock per copy whose flow requires acknowledgement: who must
#: acknowledge by when, the escalation steps after that, and what has happened.
alert_clocks = sa.Table(
    "alert_clocks",
    metadata,
    sa.Column("clock_id", sa.String(36), primary_key=True),
    sa.Column("exchange_id", sa.String(36), sa.ForeignKey("exchanges.exchange_id"), nullable=False),
    sa.Column("recipient", sa.String(64), nullable=False),
    # waiting | acknowledged | exhausted (every step passed unacknowledged) |
    # withdrawn | superseded (the sender withdrew or corrected the record)
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("step", sa.Integer, nullable=False),
    sa.Column("steps", sa.JSON, nullable=False),
    sa.Column("deadline", sa.DateTime(timezone=True)),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("acknowledged_at", sa.DateTime(timezone=True)),
    sa.Column("acknowledged_by", sa.String(160)),
    sa.Column("history", sa.JSON, nullable=False),
    # The step whose desk's people have been told (None: not even the first yet).
    sa.Column("told_step", sa.Integer),
    sa.UniqueConstraint("exchange_id", "recipient", name="uq_alert_clocks_exchange_recipient"),
    sa.Index("ix_alert_clocks_deadline", "status", "deadline"),
    sa.Index("ix_alert_clocks_recipient_started", "recipient", "started_at"),
)

#: Which person has read which inbox item (an acknowledgement clock): reading one
#: marks it read for that person only (``gateway.api.inbox``).
inbox_reads = sa.Table(
    "inbox_reads",
    metadata,
    sa.Column("clock_id", sa.String(36), sa.ForeignKey("alert_clocks.clock_id"), primary_key=True),
    sa.Column("person", sa.String(160), primary_key=True),
    sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
)

#: The auditor's searches (``gateway.audit.query``): by time, and by operation.
sa.Index("ix_audit_log_recorded_at", audit_log.c.recorded_at)
sa.Index("ix_audit_log_action_seq", audit_log.c.action, audit_log.c.seq)

#: Who each exchange is about: a subject's audit pseudonym (``gateway.audit.subjects``)
#: and the exchanges whose collection entry names it, filled from the audit trail
#: up to the entry ``audit_subjects_head`` records.
audit_subjects = sa.Table(
    "audit_subjects",
    metadata,
    sa.Column("pseudonym", sa.String(40), primary_key=True),
    sa.Column("exchange_id", sa.String(36), primary_key=True),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
)
audit_subjects_head = sa.Table(
    "audit_subjects_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
)

#: The data custodian's linking index (``gateway.linking``): keyed hashes of the person
#: identifiers each record's subjects were seen with, never the identifiers.
linking_sightings = sa.Table(
    "linking_sightings",
    metadata,
    sa.Column("exchange_id", sa.String(36), primary_key=True),
    sa.Column("subject_ref", sa.String(32), primary_key=True),
    sa.Column("id_hash", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("source_partner", sa.String(64), nullable=False),
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    # The custodian unlinked this sighting: its identifiers no longer join.
    sa.Column("excluded", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index("ix_linking_sightings_id_hash", "id_hash"),
)
#: Which person (the smallest keyed hash of their identifiers) each keyed hash is.
linking_identities = sa.Table(
    "linking_identities",
    metadata,
    sa.Column("id_hash", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("person", sa.String(32), nullable=False, index=True),
)
#: Exchanges the index has read (most show no person identifier at all).
linking_indexed = sa.Table(
    "linking_indexed",
    metadata,
    sa.Column("exchange_id", sa.String(36), primary_key=True),
)
#: The custodian's reviews: each unlink and relink, who and why.
linking_reviews = sa.Table(
    "linking_reviews",
    metadata,
    sa.Column("review_id", sa.String(36), primary_key=True),
    sa.Column("exchange_id", sa.String(36), nullable=False, index=True),
    sa.Column("subject_ref", sa.String(32), nullable=False),
    sa.Column("operation", sa.String(16), nullable=False),  # unlink | relink
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("reviewed_by", sa.String(160), nullable=False),
    sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
)

INSERT_EXCHANGES = insert_serialised(exchanges, "envelope", "decisions")
INSERT_CLOCKS = insert_serialised(alert_clocks, "steps", "history")
INSERT_OUTBOX = insert_serialised(outbox, "headers")
INSERT_UNROUTED = insert_serialised(unrouted, "recipients")
