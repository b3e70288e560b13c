"""The custodian's linking index: which records' subjects are which person.

Every stored record is read once (``catch_up``, run before anything consults
the index): each subject's identifiers become *sightings* (keyed hashes, see
``gateway.linking.keys``). The identifiers of one sighting are one person, so
a person is a connected set of keyed hashes; the person's id is the smallest
of them, which makes the result the same whatever order records arrived in,
and a merge of two persons keeps the smaller id.

A custodian may *unlink* a sighting (its identifiers no longer join) and
*relink* it; either re-derives the persons it touches (``rederive``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from gateway.audit import Action, AuditEntry
from gateway.linking.keys import sightings
from gateway.store import Store
from gateway.store.audit_log import append
from gateway.store.db import as_utc
from gateway.store.tables import (
    exchanges,
    linking_identities,
    linking_indexed,
    linking_sightings,
)

log = logging.getLogger(__name__)

#: Records read per transaction while catching up.
BATCH = 2000
#: In the background: a smaller transaction holds SQLite's one writer for less.
BACKGROUND_BATCH = 200
#: How often a relaying process brings the index up to date.
BACKGROUND_SECONDS = 30.0
#: Batches another process indexed first, before a catch-up gives up.
MAX_CLASHES = 5
#: The PostgreSQL advisory lock of the linking index ("link" in ASCII).
INDEX_LOCK = 0x6C696E6B
#: A catch-up of this many records refreshes PostgreSQL's statistics of the linking
#: tables at once, rather than waiting for autovacuum: an export planned on stale
#: statistics took twice as long.
ANALYZE_AFTER = 10_000
#: Values per IN (...) list, well under every database's limit on parameters.
CHUNK = 500


def envelope_text() -> sa.ColumnElement[Any]:
    """The stored record as text: orjson parses it several times faster than the JSON
    type's reading (SQLite) or the driver's (PostgreSQL)."""
    return sa.cast(exchanges.c.envelope, sa.Text)


def parse_envelope(value: Any) -> dict[str, Any]:
    if isinstance(value, str | bytes):
        parsed: dict[str, Any] = orjson.loads(value)
        return parsed
    return dict(value)


def chunks(values: list[str], size: int = CHUNK) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class _Components:
    """Union-find over keyed hashes; each set's label is its smallest member."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, item: str) -> str:
        parent = self.parent.setdefault(item, item)
        if parent != item:
            root = self.find(parent)
            self.parent[item] = root
            return root
        return item

    def join(self, items: Iterable[str]) -> None:
        roots = sorted({self.find(i) for i in items})
        for other in roots[1:]:
            self.parent[other] = roots[0]  # the smaller root wins: labels are minima

    def labels(self) -> dict[str, str]:
        return {item: self.find(item) for item in self.parent}


@dataclass(frozen=True)
class CatchUp:
    """What one catch-up did."""

    records: int
    sightings: int
    links: int
    merged: int  # persons that became part of another


def catch_up(store: Store, key: bytes, actor: str = "gateway", batch: int = BATCH) -> CatchUp:
    """Index every stored record not yet indexed; batch by batch, each batch in one
    transaction. Processes catching up at once take turns (``lock_index``); should
    two still pick the same records, the second's batch is simply read again.
    A catch-up that joined identifiers is audited as a combination, in figures."""
    total = CatchUp(0, 0, 0, 0)
    clashes = 0
    while True:
        try:
            with store.transaction() as conn:
                done = _index_batch(conn, key, batch)
        except IntegrityError:
            clashes += 1
            if clashes > MAX_CLASHES:
                raise
            continue
        total = CatchUp(*(a + b for a, b in zip(_as_tuple(total), _as_tuple(done), strict=True)))
        if done.records < batch:
            break
    if total.records >= ANALYZE_AFTER and store.dialect == "postgresql":
        with store.transaction() as conn:  # plans for the next queries fit the new rows
            conn.execute(sa.text("ANALYZE linking_sightings, linking_identities, linking_indexed"))
    if total.links:
        entry = AuditEntry(
            action=Action.COMBINATION,
            actor=actor,
            details={
                "operation": "index",
                "justification": "the data custodian's linking index brought up to date",
                "records": total.records,
                "sightings": total.sightings,
                "links": total.links,
                "persons_merged": total.merged,
            },
        )
        with store.transaction() as conn:
            append(conn, [entry])
    return total


def keep_indexing(
    store: Store, key: bytes, stop: threading.Event, interval: float = BACKGROUND_SECONDS
) -> None:
    """Bring the index up to date every ``interval`` seconds until ``stop`` is set, so
    the first command or export that consults it has little left to read. A pass that
    fails (the store down) is logged and tried again at the next interval."""
    while not stop.wait(interval):
        try:
            catch_up(store, key, batch=BACKGROUND_BATCH)
        except Exception as exc:
            log.warning("linking index pass failed, will try again: %s", exc)


def _as_tuple(c: CatchUp) -> tuple[int, int, int, int]:
    return (c.records, c.sightings, c.links, c.merged)


def lock_index(conn: Connection) -> None:
    """Hold the linking index for this transaction: on PostgreSQL, catch-ups and reviews
    of several processes take turns (SQLite has one writer anyway)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": INDEX_LOCK})


def _index_batch(conn: Connection, key: bytes, batch: int) -> CatchUp:
    lock_index(conn)
    indexed = sa.select(linking_indexed.c.exchange_id).where(
        linking_indexed.c.exchange_id == exchanges.c.exchange_id
    )
    rows = conn.execute(
        sa.select(
            exchanges.c.exchange_id,
            envelope_text(),
            exchanges.c.source_partner,
            exchanges.c.category,
            exchanges.c.submitted_at,
        )
        .where(~indexed.exists())
        .order_by(exchanges.c.exchange_id)
        .limit(batch)
    ).all()
    if not rows:
        return CatchUp(0, 0, 0, 0)
    sighting_rows: list[dict[str, Any]] = []
    groups: list[list[tuple[str, str]]] = []
    for exchange_id, envelope, partner, category, submitted_at in rows:
        record = parse_envelope(envelope)
        for seen in sightings(record, key):
            keys = {k.digest: k.kind for k in seen.keys}
            groups.append(list(keys.items()))
            sighting_rows += [
                {
                    "exchange_id": exchange_id,
                    "subject_ref": seen.subject_ref,
                    "id_hash": digest,
                    "kind": kind,
                    "role": seen.role[:16],
                    "source_partner": partner,
                    "category": category,
                    "seen_at": as_utc(submitted_at),
                    "excluded": False,
                }
                for digest, kind in keys.items()
            ]
    conn.execute(linking_indexed.insert(), [{"exchange_id": r[0]} for r in rows])
    if sighting_rows:
        conn.execute(linking_sightings.insert(), sighting_rows)
    merged = _resolve(conn, groups)
    return CatchUp(len(rows), len(groups), sum(len(g) > 1 for g in groups), merged)


def _resolve(conn: Connection, groups: list[list[tuple[str, str]]]) -> int:
    """Join each group's hashes with each other and with the persons they already
    are; returns how many persons were merged into another."""
    kinds = {digest: kind for group in groups for digest, kind in group}
    if not kinds:
        return 0
    known = persons_of(conn, list(kinds))
    parts = _Components()
    for group in groups:
        parts.join([d for d, _ in group] + [known[d] for d, _ in group if d in known])
    labels = parts.labels()
    renamed = {person: labels[person] for person in set(known.values()) if labels[person] != person}
    if renamed:  # one statement for every merge of the batch
        conn.execute(
            linking_identities.update()
            .where(linking_identities.c.person == sa.bindparam("old"))
            .values(person=sa.bindparam("new")),
            [{"old": old, "new": new} for old, new in renamed.items()],
        )
    fresh = [
        {"id_hash": digest, "kind": kind, "person": labels[digest]}
        for digest, kind in kinds.items()
        if digest not in known
    ]
    if fresh:
        conn.execute(linking_identities.insert(), fresh)
    return len(renamed)


def persons_of(conn: Connection, digests: list[str]) -> dict[str, str]:
    """keyed hash -> person, for the hashes the index knows."""
    found: dict[str, str] = {}
    for part in chunks(sorted(set(digests))):
        found.update(
            conn.execute(
                sa.select(linking_identities.c.id_hash, linking_identities.c.person).where(
                    linking_identities.c.id_hash.in_(part)
                )
            ).all()
        )
    return found


def members(conn: Connection, persons: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    """person -> its (keyed hash, kind) pairs."""
    found: dict[str, list[tuple[str, str]]] = {}
    for part in chunks(sorted(set(persons))):
        for digest, kind, person in conn.execute(
            sa.select(
                linking_identities.c.id_hash,
                linking_identities.c.kind,
                linking_identities.c.person,
            ).where(linking_identities.c.person.in_(part))
        ):
            found.setdefault(person, []).append((digest, kind))
    return found


def rederive(conn: Connection, digests: Iterable[str]) -> dict[str, str]:
    """Work out afresh the persons that ``digests`` belong to, from the sightings not
    unlinked; returns keyed hash -> new person for every hash whose person changed."""
    wanted = set(digests)
    persons = set(persons_of(conn, list(wanted)).values())
    hashes = set(wanted)
    for pairs in members(conn, persons).values():
        hashes.update(d for d, _ in pairs)
    # Active sightings that touch these hashes; a relinked one may reach further.
    parts = _Components()
    seen: set[str] = set()
    frontier = set(hashes)
    while frontier:
        seen |= frontier
        groups: dict[tuple[str, str], list[str]] = {}
        for part in chunks(sorted(frontier)):
            touching = (
                sa.select(linking_sightings.c.exchange_id, linking_sightings.c.subject_ref)
                .where(linking_sightings.c.id_hash.in_(part))
                .where(linking_sightings.c.excluded == sa.false())
                .subquery()
            )
            for exchange_id, ref, digest in conn.execute(
                sa.select(
                    linking_sightings.c.exchange_id,
                    linking_sightings.c.subject_ref,
                    linking_sightings.c.id_hash,
                )
                .join(
                    touching,
                    sa.and_(
                        touching.c.exchange_id == linking_sightings.c.exchange_id,
                        touching.c.subject_ref == linking_sightings.c.subject_ref,
                    ),
                )
                .where(linking_sightings.c.excluded == sa.false())
            ):
                groups.setdefault((exchange_id, ref), []).append(digest)
        for group in groups.values():
            parts.join(group)
        frontier = {d for group in groups.values() for d in group} - seen
    for digest in seen:
        parts.find(digest)  # a hash seen only where unlinked is a person of its own
    labels = parts.labels()
    before = persons_of(conn, list(seen))
    changed = {d: labels[d] for d in seen if before.get(d) != labels[d]}
    for new in set(changed.values()):
        moving = [d for d, p in changed.items() if p == new]
        for part in chunks(moving):
            conn.execute(
                linking_identities.update()
                .where(linking_identities.c.id_hash.in_(part))
                .values(person=new)
            )
    return changed


def person_rows(conn: Connection, persons: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    """person -> the (exchange id, subject ref) of every record it was seen in; an
    unlinked sighting is nobody's (the custodian judged it mixes two people).
    A few queries for any number of persons: each is a round trip to the database."""
    whose = {d: person for person, pairs in members(conn, persons).items() for d, _ in pairs}
    found: dict[str, set[tuple[str, str]]] = {}
    for part in chunks(sorted(whose)):
        for exchange_id, ref, digest in conn.execute(
            sa.select(
                linking_sightings.c.exchange_id,
                linking_sightings.c.subject_ref,
                linking_sightings.c.id_hash,
            )
            .where(linking_sightings.c.id_hash.in_(part))
            .where(linking_sightings.c.excluded == sa.false())
        ):
            found.setdefault(whose[digest], set()).add((exchange_id, ref))
    return {p: sorted(rows) for p, rows in found.items()}


def last_seen(conn: Connection) -> datetime | None:
    """When the newest indexed record was submitted (for ``gateway linking list``)."""
    value = conn.execute(sa.select(sa.func.max(linking_sightings.c.seen_at))).scalar()
    return as_utc(value) if value is not None else None
