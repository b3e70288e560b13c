"""What links one person across agencies: the identifiers a record shows together.

A subject's NHS number, PNC ID, CRN and NOMS number, and the partnership's case
reference (MARAC, MAPPA or the unit's), are each turned into a *keyed hash*
with the data custodian's linking key: the linking tables hold these, never
the identifiers. Two values are the same identifier only when they normalise
to the same text (spaces and case do not count).

A case reference names a case, not a person: it links only the one subject of
a record on the perpetrator's side (perpetrator, suspect, offender, patient)
and, separately, the one victim; never a victim to a perpetrator, and nobody
when a record names two people on the same side.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from dataclasses import dataclass
from typing import Any

#: Identifier systems that name a person wherever they are seen (not "local").
PERSON_IDENTIFIERS = ("nhs_number", "pnc_id", "crn", "noms_number")
#: The key kind of a case reference.
CASE = "case"
#: Roles on each side of a case; other roles (a child, a witness) are never linked by one.
SIDES = {
    "perpetrator": "perpetrator",
    "suspect": "perpetrator",
    "offender": "perpetrator",
    "patient": "perpetrator",
    "victim": "victim",
}
#: Kinds a person has at most one of: two in one person is a conflict to review.
SINGLE_VALUED = frozenset({"nhs_number", "pnc_id", "crn", "noms_number"})


@dataclass(frozen=True)
class Key:
    """One identifier of a subject, as the linking tables hold it."""

    kind: str
    digest: str


@dataclass(frozen=True)
class Sighting:
    """One subject of one record and the identifiers it was seen with."""

    subject_ref: str
    role: str
    keys: tuple[Key, ...]

    @property
    def links(self) -> bool:
        """Whether this sighting joins identifiers (two or more seen together)."""
        return len({k.digest for k in self.keys}) > 1


def normalise(kind: str, value: str) -> str:
    """The identifier as compared: no spaces, upper case."""
    return "".join(value.split()).upper()


def keyed_hash(key: bytes, kind: str, value: str) -> str:
    """HMAC-SHA-256 of the kind and normalised value, 128 bits in hex."""
    message = f"{kind}\x1f{normalise(kind, value)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def case_kind(record: dict[str, Any]) -> str:
    """Which partnership case a record's case reference names (evidence only)."""
    payload = record.get("payload") or {}
    forum = (payload.get("meeting") or {}).get("forum")
    if payload.get("mappa") or forum == "mappa":
        return "mappa"
    referred_to = str((payload.get("referral") or {}).get("referred_to") or "").lower()
    if forum == "marac" or referred_to == "marac":
        return "marac"
    return "partnership"


def sightings(record: dict[str, Any], key: bytes) -> list[Sighting]:
    """Every subject of ``record`` (a canonical record's JSON form) with at least one
    linkable identifier, its identifiers as keyed hashes."""
    subjects = record.get("subjects") or []
    per_side = Counter(SIDES.get(str(s.get("role")), "") for s in subjects)
    case = str(record.get("case_reference") or "").strip()
    found = []
    for subject in subjects:
        keys = [
            Key(i["system"], keyed_hash(key, i["system"], str(i["value"])))
            for i in subject.get("identifiers") or []
            if i.get("system") in PERSON_IDENTIFIERS
        ]
        side = SIDES.get(str(subject.get("role")), "")
        if case and side and per_side[side] == 1:
            keys.append(Key(CASE, keyed_hash(key, CASE, f"{side}:{case}")))
        if keys:
            found.append(Sighting(str(subject["ref"]), str(subject.get("role")), tuple(keys)))
    return found
