"""The data custodian's review of links: list persons, show a person's evidence,
unlink a sighting that joined two people wrongly, relink it.

Every unlink and relink is kept in ``linking_reviews`` and audited as a
combination (s62) naming the persons it changed; neither shows an identifier.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from contracts.ids import new_id_text
from gateway.audit import Action, AuditEntry
from gateway.linking.index import lock_index, members, persons_of, rederive
from gateway.linking.keys import SINGLE_VALUED
from gateway.store import Store
from gateway.store.audit_log import append
from gateway.store.db import as_utc
from gateway.store.tables import (
    audit_log,
    linking_identities,
    linking_reviews,
    linking_sightings,
)


class ReviewError(ValueError):
    """A review the index cannot carry out (no such sighting, already unlinked ...)."""


@dataclass(frozen=True)
class PersonSummary:
    person: str
    identifiers: dict[str, int]  # kind -> how many distinct keyed hashes
    records: int
    links: int  # sightings that joined two or more identifiers
    partners: tuple[str, ...]
    first_seen: datetime | None
    last_seen: datetime | None

    @property
    def conflicts(self) -> list[str]:
        """Kinds a person has one of but this one has more: a link to check."""
        return sorted(k for k, n in self.identifiers.items() if k in SINGLE_VALUED and n > 1)


@dataclass(frozen=True)
class Evidence:
    """One sighting: a record's subject and the identifiers it was seen with."""

    exchange_id: str
    subject_ref: str
    role: str
    source_partner: str
    category: str
    seen_at: datetime
    identifiers: tuple[tuple[str, str], ...]  # (kind, keyed hash)
    excluded: bool
    audit_entry: str | None = None  # the combination entry written when it arrived

    def as_dict(self) -> dict[str, Any]:
        return {
            "exchange_id": self.exchange_id,
            "subject_ref": self.subject_ref,
            "role": self.role,
            "source_partner": self.source_partner,
            "category": self.category,
            "seen_at": self.seen_at.isoformat(),
            "identifiers": [{"kind": k, "keyed_hash": d} for k, d in self.identifiers],
            "status": "unlinked" if self.excluded else "linked",
            "audit_entry": self.audit_entry,
        }


@dataclass
class Review:
    """What an unlink or relink changed: keyed hash -> (person before, person after)."""

    operation: str
    exchange_id: str
    subject_ref: str
    moved: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def persons(self) -> dict[str, list[str]]:
        before = sorted({b for b, _ in self.moved.values()})
        after = sorted({a for _, a in self.moved.values()})
        return {"before": before, "after": after}


def list_persons(
    store: Store, *, linked_only: bool = True, conflicts_only: bool = False, limit: int = 100
) -> list[PersonSummary]:
    """Persons the index knows, most identifiers first: by default only those that
    join two or more identifiers (the ones a custodian reviews)."""
    with store.transaction() as conn:
        counts = sa.select(linking_identities.c.person, sa.func.count().label("n")).group_by(
            linking_identities.c.person
        )
        if linked_only or conflicts_only:
            counts = counts.having(sa.func.count() > 1)
        rows = conn.execute(counts.order_by(sa.desc("n"), linking_identities.c.person)).all()
        persons = [r[0] for r in rows]
        summaries = []
        for start in range(0, len(persons), 200):
            summaries += _summaries(conn, persons[start : start + 200])
            if not conflicts_only and len(summaries) >= limit:
                break
    if conflicts_only:
        summaries = [s for s in summaries if s.conflicts]
    return summaries[:limit]


def _summaries(conn: Connection, persons: list[str]) -> list[PersonSummary]:
    by_person = members(conn, persons)
    out = []
    for person in persons:
        pairs = by_person.get(person, [])
        kinds: dict[str, int] = defaultdict(int)
        for _, kind in pairs:
            kinds[kind] += 1
        sightings = evidence(conn, [d for d, _ in pairs], with_audit=False)
        seen = [e.seen_at for e in sightings]
        out.append(
            PersonSummary(
                person=person,
                identifiers=dict(sorted(kinds.items())),
                records=len({e.exchange_id for e in sightings}),
                links=sum(len(e.identifiers) > 1 and not e.excluded for e in sightings),
                partners=tuple(sorted({e.source_partner for e in sightings})),
                first_seen=min(seen) if seen else None,
                last_seen=max(seen) if seen else None,
            )
        )
    return out


def evidence(conn: Connection, digests: list[str], *, with_audit: bool = True) -> list[Evidence]:
    """Every sighting of any of ``digests``, each with all the identifiers it showed."""
    if not digests:
        return []
    s = linking_sightings
    touching = sa.select(s.c.exchange_id, s.c.subject_ref).where(s.c.id_hash.in_(digests))
    rows = conn.execute(
        sa.select(s)
        .where(sa.tuple_(s.c.exchange_id, s.c.subject_ref).in_(touching))
        .order_by(s.c.seen_at, s.c.exchange_id, s.c.subject_ref, s.c.kind)
    ).mappings()
    grouped: dict[tuple[str, str], list[Any]] = {}
    for row in rows:
        grouped.setdefault((row["exchange_id"], row["subject_ref"]), []).append(row)
    entries: dict[str, str] = {}
    if with_audit and grouped:
        ids = sorted({e for e, _ in grouped})
        entries = dict(
            conn.execute(
                sa.select(audit_log.c.exchange_id, audit_log.c.entry_id)
                .where(audit_log.c.exchange_id.in_(ids))
                .where(audit_log.c.action == Action.COMBINATION)
            ).all()
        )
    return [
        Evidence(
            exchange_id=exchange_id,
            subject_ref=ref,
            role=group[0]["role"],
            source_partner=group[0]["source_partner"],
            category=group[0]["category"],
            seen_at=as_utc(group[0]["seen_at"]),
            identifiers=tuple((r["kind"], r["id_hash"]) for r in group),
            excluded=bool(group[0]["excluded"]),
            audit_entry=entries.get(exchange_id),
        )
        for (exchange_id, ref), group in grouped.items()
    ]


def show(store: Store, person: str) -> list[Evidence]:
    """The evidence for ``person``: every record its identifiers were seen in."""
    with store.transaction() as conn:
        pairs = members(conn, [person]).get(person)
        if not pairs:
            raise ReviewError(f"no person {person!r} in the linking index")
        return evidence(conn, [d for d, _ in pairs])


def unlink(store: Store, exchange_id: str, subject_ref: str, reason: str, by: str) -> Review:
    """The identifiers of this record's subject no longer join (the record mixed two
    people up); the persons it touched are derived again."""
    return _review(store, "unlink", exchange_id, subject_ref, reason, by)


def relink(store: Store, exchange_id: str, subject_ref: str, reason: str, by: str) -> Review:
    """Undo an unlink: the sighting joins its identifiers again."""
    return _review(store, "relink", exchange_id, subject_ref, reason, by)


def _review(
    store: Store, operation: str, exchange_id: str, subject_ref: str, reason: str, by: str
) -> Review:
    if not reason.strip():
        raise ReviewError("say why (--reason): the review is audited")
    s = linking_sightings
    excluded = operation == "unlink"
    with store.transaction() as conn:
        lock_index(conn)
        which = sa.and_(s.c.exchange_id == exchange_id, s.c.subject_ref == subject_ref)
        rows = conn.execute(sa.select(s.c.id_hash, s.c.excluded).where(which)).all()
        if not rows:
            raise ReviewError(
                f"no sighting of subject {subject_ref!r} in exchange {exchange_id} "
                "(see `gateway linking show PERSON`)"
            )
        if all(bool(r[1]) == excluded for r in rows):
            state = "unlinked" if excluded else "linked"
            raise ReviewError(f"subject {subject_ref!r} of {exchange_id} is {state} already")
        digests = [r[0] for r in rows]
        touched = set(persons_of(conn, digests).values())
        before = {d: p for p, pairs in members(conn, touched).items() for d, _ in pairs}
        conn.execute(s.update().where(which).values(excluded=excluded))
        changed = rederive(conn, digests)
        review = Review(operation, exchange_id, subject_ref)
        for digest, person in changed.items():
            review.moved[digest] = (before.get(digest, digest), person)
        now = datetime.now(UTC)
        conn.execute(
            linking_reviews.insert().values(
                review_id=new_id_text(),
                exchange_id=exchange_id,
                subject_ref=subject_ref,
                operation=operation,
                reason=reason,
                reviewed_by=by,
                reviewed_at=now,
            )
        )
        append(
            conn,
            [
                AuditEntry(
                    action=Action.COMBINATION,
                    actor=by,
                    exchange_id=exchange_id,
                    details={
                        "operation": operation,
                        "subject_ref": subject_ref,
                        "justification": reason,
                        "persons_before": review.persons["before"],
                        "persons_after": review.persons["after"],
                    },
                )
            ],
        )
    return review
