"""Police crime record <-> canonical exchange, field by field."""

from __future__ import annotations

import uuid
from typing import Any

from adapters.base import IngestContext
from adapters.police.native import NativeAddress, NativePerson, PoliceCrimeRecord
from contracts import (
    Address,
    Category,
    CrimeSection,
    Exchange,
    Identifier,
    IdentifierSystem,
    Offence,
    Payload,
    PersonName,
    RiskSection,
    Subject,
)

_ROLE = {"suspect": "suspect", "victim": "victim", "witness": "witness", "other": "other"}


def _address(native: NativeAddress | None) -> Address | None:
    if native is None:
        return None
    return Address(
        lines=native.lines,
        town=native.town,
        postcode=native.postcode,
        local_authority=native.district,
    )


def _subject(person: NativePerson) -> Subject:
    identifiers = []
    if person.pnc_id:
        identifiers.append(Identifier(system=IdentifierSystem.PNC_ID, value=person.pnc_id))
    if person.local_id:
        identifiers.append(
            Identifier(system=IdentifierSystem.LOCAL, value=person.local_id, issuer="police")
        )
    name = None
    if person.forename or person.surname:
        name = PersonName(given=person.forename, family=person.surname)
    return Subject(
        ref=person.ref,
        role=_ROLE[person.role],
        identifiers=identifiers,
        name=name,
        date_of_birth=person.dob,
        gender=person.gender,
        address=_address(person.address),
        safe_contact=person.safe_contact,
    )


def _legislation(act: str | None, section: str | None) -> str | None:
    if act and section:
        return f"{act} s{section}"
    return act or (f"s{section}" if section else None)


def to_canonical(record: PoliceCrimeRecord, context: IngestContext) -> Exchange:
    occ = record.occurrence
    risk = None
    if record.risk:
        risk = RiskSection(
            tool=record.risk.tool,
            level=record.risk.level,
            score=record.risk.score,
            assessed_at=record.risk.assessed,
        )
    return Exchange(
        exchange_id=uuid.uuid4(),
        source_partner=context.source_partner,
        submitted_at=context.received_at,
        category=Category.CRIME_RECORD,
        purpose=record.purpose,
        urgency=record.urgency,
        case_reference=record.case_reference,
        subjects=[_subject(p) for p in record.persons],
        payload=Payload(
            crime=CrimeSection(
                occurrence_number=occ.number,
                offence=Offence(
                    code=occ.offence.ho_code,
                    legislation=_legislation(occ.offence.act, occ.offence.section),
                    description=occ.offence.title,
                ),
                reported_at=occ.reported,
                occurred_from=occ.committed_from,
                occurred_to=occ.committed_to,
                status=occ.status,
                summary=occ.circumstances,
                officer_in_case=occ.officer_in_case,
            ),
            risk=risk,
        ),
    )


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None and v != {}}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def _split_legislation(text: str | None) -> tuple[str | None, str | None]:
    if not text:
        return None, None
    act, sep, section = text.rpartition(" s")
    return (act, section) if sep else (text, None)


def from_canonical(record: dict[str, Any]) -> dict[str, Any]:
    """Render a canonical record (possibly minimised: any field may be absent)."""
    crime = (record.get("payload") or {}).get("crime") or {}
    offence = crime.get("offence") or {}
    act, section = _split_legislation(offence.get("legislation"))
    persons = []
    for subject in record.get("subjects") or []:
        ids = {i.get("system"): i.get("value") for i in subject.get("identifiers") or []}
        name = subject.get("name") or {}
        address = subject.get("address")
        persons.append(
            {
                "ref": subject.get("ref"),
                "role": subject.get("role"),
                "pnc_id": ids.get("pnc_id"),
                "local_id": ids.get("local"),
                "forename": name.get("given"),
                "surname": name.get("family"),
                "dob": subject.get("date_of_birth"),
                "gender": subject.get("gender"),
                "address": None
                if address is None
                else {
                    "lines": address.get("lines"),
                    "town": address.get("town"),
                    "postcode": address.get("postcode"),
                    "district": address.get("local_authority"),
                },
                "safe_contact": subject.get("safe_contact"),
            }
        )
    risk = (record.get("payload") or {}).get("risk")
    native = {
        "format": "police-crime/1",
        "purpose": record.get("purpose"),
        "case_reference": record.get("case_reference"),
        "urgency": record.get("urgency"),
        "occurrence": {
            "number": crime.get("occurrence_number"),
            "reported": crime.get("reported_at"),
            "committed_from": crime.get("occurred_from"),
            "committed_to": crime.get("occurred_to"),
            "status": crime.get("status"),
            "offence": {
                "ho_code": offence.get("code"),
                "act": act,
                "section": section,
                "title": offence.get("description"),
            },
            "circumstances": crime.get("summary"),
            "officer_in_case": crime.get("officer_in_case"),
        },
        "persons": persons,
        "risk": None
        if not risk
        else {
            "tool": risk.get("tool"),
            "level": risk.get("level"),
            "score": risk.get("score"),
            "assessed": risk.get("assessed_at"),
        },
    }
    return _drop_none(native)
