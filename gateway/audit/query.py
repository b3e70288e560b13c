"""Reading the audit trail for the people who answer for it (auditors, the DPO).

Searches by exchange, subject, partner, purpose, rule, decision, operation and
time, newest first, a page at a time. A page ends with a *keyset* cursor (the
last entry's ``seq``, opaque to the caller), so the next page starts where this
one stopped however many entries were appended since, and costs the same on
page 1,000 as on page 1.

The SQL narrows the search with what it can index (the exchange, the time,
the operation, the subject's exchanges) and a text match on the stored JSON
that can only over-match; each entry is then checked exactly against the
filters. A page therefore scans at most ``MAX_SCAN`` entries: a rare partner
or rule may answer a short page, with a cursor to go on.

A subject is searched by the *audit pseudonym* of an identifier
(``gateway.audit.subjects``): ``audit_subjects`` lists the exchanges whose
collection entry names it, filled here from the trail as it grows.

This package must not import the store (the store imports it), so the tables
are named here as plain table clauses.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from gateway.audit.chain import Action
from gateway.audit.subjects import envelope_pseudonyms, is_pseudonym, subject_pseudonym

#: The most entries one page reads before answering (with a cursor to go on).
MAX_SCAN = 20_000
MAX_LIMIT = 500
#: How many collection entries one pass of indexing reads.
INDEX_BATCH = 2_000
#: What a decision filter means as audit operations.
DECISIONS = {"permit": (Action.DISCLOSURE,), "deny": (Action.REFUSAL,)}

audit_log = sa.table(
    "audit_log",
    sa.column("seq", sa.BigInteger),
    sa.column("entry_id", sa.String),
    sa.column("recorded_at", sa.String),
    sa.column("action", sa.String),
    sa.column("actor", sa.String),
    sa.column("recipient", sa.String),
    sa.column("exchange_id", sa.String),
    sa.column("details", sa.Text),
    sa.column("hash_alg", sa.String),
    sa.column("hash", sa.String),
)
audit_subjects = sa.table(
    "audit_subjects",
    sa.column("pseudonym", sa.String),
    sa.column("exchange_id", sa.String),
    sa.column("role", sa.String),
    sa.column("seq", sa.BigInteger),
)
audit_subjects_head = sa.table(
    "audit_subjects_head", sa.column("id", sa.Integer), sa.column("seq", sa.BigInteger)
)
exchanges = sa.table("exchanges", sa.column("exchange_id", sa.String), sa.column("envelope"))

ENTRY_COLUMNS = (
    audit_log.c.seq,
    audit_log.c.entry_id,
    audit_log.c.recorded_at,
    audit_log.c.action,
    audit_log.c.actor,
    audit_log.c.recipient,
    audit_log.c.exchange_id,
    audit_log.c.details,
    audit_log.c.hash_alg,
    audit_log.c.hash,
)


class BadCursor(ValueError):
    """A cursor this gateway did not give."""


def moment(value: str | date | datetime) -> str:
    """A time filter as ``recorded_at`` is written (ISO 8601, UTC, microseconds), so
    text comparison orders it; a date is its midnight UTC, a time without a zone UTC."""
    if isinstance(value, str):
        parsed: date | datetime = (
            datetime.fromisoformat(value)
            if "T" in value or " " in value
            else date.fromisoformat(value)
        )
    else:
        parsed = value
    if not isinstance(parsed, datetime):
        parsed = datetime(parsed.year, parsed.month, parsed.day, tzinfo=UTC)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Filters:
    """What to search for; every one given must hold (None: any)."""

    exchange_id: str | None = None
    subject: str | None = None  # an audit pseudonym
    partner: str | None = None  # who acted for, or received, or was refused
    purpose: str | None = None
    rule: str | None = None
    decision: str | None = None  # permit | deny
    action: str | None = None
    since: str | None = None  # inclusive, as ``moment`` writes it
    until: str | None = None  # exclusive

    def as_query(self) -> dict[str, str]:
        """The filters given, as query parameters (for links and the CSV's name)."""
        return {f.name: str(v) for f in fields(self) if (v := getattr(self, f.name)) is not None}


@dataclass(frozen=True)
class Page:
    entries: list[dict[str, Any]]
    next_cursor: str | None
    scanned: int


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"a1:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursor("the cursor is not one this gateway gave") from None
    kind, _, seq = text.partition(":")
    if kind != "a1" or not seq.isdigit() or int(seq) < 1:
        raise BadCursor("the cursor is not one this gateway gave")
    return int(seq)


def _like(text: str) -> str:
    """A LIKE pattern matching ``text`` as a JSON string anywhere in the details."""
    quoted = json.dumps(text, ensure_ascii=False)
    escaped = quoted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def as_entry(row: Mapping[Any, Any]) -> dict[str, Any]:
    details = row["details"]
    return {
        "seq": int(row["seq"]),
        "entry_id": row["entry_id"],
        "recorded_at": row["recorded_at"],
        "action": row["action"],
        "actor": row["actor"],
        "recipient": row["recipient"],
        "exchange_id": row["exchange_id"],
        "details": json.loads(details) if isinstance(details, str | bytes) else details,
        "hash_alg": row["hash_alg"],
        "hash": row["hash"],
    }


def _refused(details: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    refused = details.get("refused")
    return [r for r in refused if isinstance(r, Mapping)] if isinstance(refused, list) else []


def matches(entry: Mapping[str, Any], filters: Filters) -> bool:
    """Whether an entry holds every filter, read exactly from its details."""
    details = entry["details"] if isinstance(entry["details"], Mapping) else {}
    refused = _refused(details)
    if filters.partner is not None:
        p = filters.partner
        if not (
            entry["actor"] == p
            or entry["recipient"] == p
            or any(r.get("recipient") == p for r in refused)
        ):
            return False
    if filters.purpose is not None:
        p = filters.purpose
        purposes = details.get("purposes")
        if not (
            details.get("purpose") == p
            or (isinstance(purposes, list) and p in purposes)
            or any(r.get("purpose") == p for r in refused)
        ):
            return False
    if filters.rule is not None:
        rules = details.get("rules")
        if not (
            (isinstance(rules, list) and filters.rule in rules)
            or any(filters.rule in (r.get("rules") or []) for r in refused)
        ):
            return False
    return True


class AuditQuery:
    """The auditor's view of the trail in ``engine``; ``pseudonym_key`` is the
    gateway's, from which subjects' audit pseudonyms are derived."""

    def __init__(self, engine: Engine, pseudonym_key: bytes) -> None:
        self.engine = engine
        self.pseudonym_key = pseudonym_key

    # Subjects.

    def pseudonym(self, system: str, value: str, issuer: str | None = None) -> str:
        return subject_pseudonym(self.pseudonym_key, system, value, issuer)

    def index_subjects(self) -> int:
        """Bring ``audit_subjects`` up to the newest collection entry; how many
        entries it read. Safe to run from several processes at once."""
        read = 0
        while True:
            with self.engine.begin() as conn:
                done = conn.execute(
                    sa.select(audit_subjects_head.c.seq).where(audit_subjects_head.c.id == 1)
                ).scalar()
                rows = (
                    conn.execute(
                        sa.select(audit_log.c.seq, audit_log.c.exchange_id, audit_log.c.details)
                        .where(
                            audit_log.c.action == Action.COLLECTION,
                            audit_log.c.seq > (done or 0),
                        )
                        .order_by(audit_log.c.seq)
                        .limit(INDEX_BATCH)
                    )
                    .mappings()
                    .all()
                )
                if not rows:
                    return read
                self._index(conn, rows)
                last = int(rows[-1]["seq"])
                conn.execute(
                    audit_subjects_head.update()
                    .where(audit_subjects_head.c.id == 1, audit_subjects_head.c.seq < last)
                    .values(seq=last)
                )
            read += len(rows)
            if len(rows) < INDEX_BATCH:
                return read

    def _index(self, conn: Connection, rows: Sequence[Mapping[Any, Any]]) -> None:
        values = []
        for row in rows:
            if row["exchange_id"] is None:
                continue
            details = json.loads(row["details"]) if row["details"] else {}
            named = details.get("subject_pseudonyms")
            if not isinstance(named, Mapping):
                # Written before entries named their subjects: read the envelope kept.
                envelope = conn.execute(
                    sa.select(exchanges.c.envelope).where(
                        exchanges.c.exchange_id == row["exchange_id"]
                    )
                ).scalar()
                if isinstance(envelope, str | bytes):
                    envelope = json.loads(envelope)
                named = envelope_pseudonyms(self.pseudonym_key, envelope)
            for pseudonym, role in named.items():
                values.append(
                    {
                        "pseudonym": str(pseudonym)[:40],
                        "exchange_id": row["exchange_id"],
                        "role": str(role or "")[:32],
                        "seq": int(row["seq"]),
                    }
                )
        if not values:
            return
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(audit_subjects).on_conflict_do_nothing()
        conn.execute(insert, values)

    def subject_exchanges(self, pseudonym: str) -> dict[str, str]:
        """``{exchange_id: role}`` of every exchange about the subject, oldest first."""
        self.index_subjects()
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(audit_subjects.c.exchange_id, audit_subjects.c.role)
                .where(audit_subjects.c.pseudonym == pseudonym)
                .order_by(audit_subjects.c.seq)
            ).all()
        return {exchange_id: role for exchange_id, role in rows}

    # Searching.

    def _where(self, filters: Filters) -> list[sa.ColumnElement[bool]]:
        where: list[sa.ColumnElement[bool]] = []
        if filters.exchange_id is not None:
            where.append(audit_log.c.exchange_id == filters.exchange_id)
        if filters.subject is not None:
            where.append(
                audit_log.c.exchange_id.in_(
                    sa.select(audit_subjects.c.exchange_id).where(
                        audit_subjects.c.pseudonym == filters.subject
                    )
                )
            )
        actions: set[str] | None = None
        if filters.action is not None:
            actions = {filters.action}
        if filters.decision is not None:
            decided = set(DECISIONS.get(filters.decision, ()))
            actions = decided if actions is None else actions & decided
        if actions is not None:
            where.append(audit_log.c.action.in_(sorted(actions)) if actions else sa.false())
        if filters.since is not None:
            where.append(audit_log.c.recorded_at >= filters.since)
        if filters.until is not None:
            where.append(audit_log.c.recorded_at < filters.until)
        if filters.partner is not None:
            where.append(
                sa.or_(
                    audit_log.c.actor == filters.partner,
                    audit_log.c.recipient == filters.partner,
                    audit_log.c.details.like(_like(filters.partner), escape="\\"),
                )
            )
        for text in (filters.purpose, filters.rule):
            if text is not None:
                where.append(audit_log.c.details.like(_like(text), escape="\\"))
        return where

    def search(
        self,
        filters: Filters,
        *,
        limit: int = 50,
        cursor: str | None = None,
        newest_first: bool = True,
    ) -> Page:
        """One page of the entries that hold ``filters``."""
        if filters.subject is not None:
            if not is_pseudonym(filters.subject):
                return Page([], None, 0)
            self.index_subjects()
        limit = max(1, min(limit, MAX_LIMIT))
        after = decode_cursor(cursor) if cursor else None
        where = self._where(filters)
        order = audit_log.c.seq.desc() if newest_first else audit_log.c.seq.asc()
        found: list[dict[str, Any]] = []
        scanned = 0
        last_seq: int | None = after
        batch = min(max(limit * 2, 200), MAX_SCAN)
        with self.engine.connect() as conn:
            while True:
                query = sa.select(*ENTRY_COLUMNS).where(*where).order_by(order).limit(batch)
                if last_seq is not None:
                    query = query.where(
                        audit_log.c.seq < last_seq if newest_first else audit_log.c.seq > last_seq
                    )
                rows = conn.execute(query).mappings().all()
                exhausted = len(rows) < batch
                for index, row in enumerate(rows):
                    scanned += 1
                    entry = as_entry(row)
                    last_seq = entry["seq"]
                    if matches(entry, filters):
                        found.append(entry)
                    if len(found) == limit:
                        more = index < len(rows) - 1 or not exhausted
                        return Page(found, encode_cursor(last_seq) if more else None, scanned)
                if exhausted:
                    return Page(found, None, scanned)
                if scanned >= MAX_SCAN and last_seq is not None:
                    return Page(found, encode_cursor(last_seq), scanned)

    def all(self, filters: Filters, *, newest_first: bool = True) -> Iterator[dict[str, Any]]:
        """Every entry that holds ``filters``, page by page (for an export)."""
        cursor: str | None = None
        while True:
            page = self.search(filters, limit=MAX_LIMIT, cursor=cursor, newest_first=newest_first)
            yield from page.entries
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def exchange_entries(self, exchange_id: str) -> list[dict[str, Any]]:
        """Every entry about one exchange, oldest first: its timeline."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(*ENTRY_COLUMNS)
                .where(audit_log.c.exchange_id == exchange_id)
                .order_by(audit_log.c.seq)
            ).mappings()
            return [as_entry(row) for row in rows]

    # The dashboard's figures, counted by the database: the JSON functions of SQLite
    # (json_each, json_extract) and PostgreSQL (jsonb) read each entry's details
    # where they are, so eight weeks of a busy trail are never parsed in Python.

    def disclosures_by_day_and_flow(self, since: str) -> list[tuple[str, str, int]]:
        """(day, flow, copies) for disclosures since ``since``; the flow is the rule
        that permitted the copy (the first of ``rules``)."""
        flow = (
            "CAST(details AS jsonb) -> 'rules' ->> 0"
            if self.engine.dialect.name == "postgresql"
            else "json_extract(details, '$.rules[0]')"
        )
        sql = sa.text(
            f"SELECT substr(recorded_at, 1, 10) AS day, {flow} AS flow, COUNT(*) AS n "
            "FROM audit_log WHERE action = :action AND recorded_at >= :since "
            "GROUP BY substr(recorded_at, 1, 10), 2"
        )
        with self.engine.connect() as conn:
            rows = conn.execute(sql, {"action": Action.DISCLOSURE, "since": since}).all()
        return [(str(day), str(flow or "(no rule)"), int(n)) for day, flow, n in rows]

    def refusals_by_rule(self, since: str) -> dict[str, int]:
        """How many recipients each rule refused since ``since`` (a refusal entry
        lists every recipient refused, each with its rules)."""
        if self.engine.dialect.name == "postgresql":
            sql = sa.text(
                "SELECT r AS rule, COUNT(*) AS n FROM audit_log, "
                "jsonb_array_elements(CAST(details AS jsonb) -> 'refused') AS f, "
                "jsonb_array_elements_text(f -> 'rules') AS r "
                "WHERE action = :action AND recorded_at >= :since GROUP BY r"
            )
        else:
            sql = sa.text(
                "SELECT r.value AS rule, COUNT(*) AS n FROM audit_log, "
                "json_each(audit_log.details, '$.refused') AS f, "
                "json_each(f.value, '$.rules') AS r "
                "WHERE audit_log.action = :action AND audit_log.recorded_at >= :since "
                "GROUP BY r.value"
            )
        with self.engine.connect() as conn:
            rows = conn.execute(sql, {"action": Action.REFUSAL, "since": since}).all()
        return {str(rule): int(n) for rule, n in rows}

    def count_by_day(self, action: str, since: str) -> dict[str, int]:
        """How many entries of ``action`` each day since ``since``."""
        day = sa.func.substr(audit_log.c.recorded_at, 1, 10)
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(day, sa.func.count())
                .where(audit_log.c.action == action, audit_log.c.recorded_at >= since)
                .group_by(day)
            ).all()
        return {str(d): int(n) for d, n in rows}


def with_subject(filters: Filters, pseudonym: str | None) -> Filters:
    return replace(filters, subject=pseudonym)


__all__ = [
    "MAX_LIMIT",
    "AuditQuery",
    "BadCursor",
    "Filters",
    "Page",
    "as_entry",
    "decode_cursor",
    "encode_cursor",
    "matches",
    "moment",
]
