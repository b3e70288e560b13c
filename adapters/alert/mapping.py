"""Generic alert (``alert/1``) <-> canonical exchange."""

from __future__ import annotations

from typing import Any

from adapters.alert.native import PERSON_REF, AlertRecord, NativeAddress
from adapters.alerts import alert_section, alert_urgency, check_alert_names_someone, native_alert
from adapters.base import (
    IngestContext,
    collect_identifiers,
    drop_empty,
    identifier_values,
    native_purposes,
    person_name,
)
from contracts import Address, Category, Exchange, IdentifierSystem, Payload, Subject, SubjectRole
from contracts.ids import new_id

FORMAT = "alert/1"


def _address(native: NativeAddress | None) -> Address | None:
    return Address(**native.model_dump()) if native else None


def to_canonical(record: AlertRecord, context: IngestContext) -> Exchange:
    person = record.person
    subject = Subject(
        ref=PERSON_REF,
        role=person.role,
        identifiers=collect_identifiers(
            (IdentifierSystem.NHS_NUMBER, person.nhs_number),
            (IdentifierSystem.PNC_ID, person.pnc_id),
            (IdentifierSystem.CRN, person.crn),
            (IdentifierSystem.NOMS_NUMBER, person.noms_number),
            (IdentifierSystem.LOCAL, person.local_id),
            local_issuer=context.source_partner,
        ),
        name=person_name(person.forename, person.surname),
        date_of_birth=person.dob,
        gender=person.gender,
        address=_address(person.address),
    )
    # The alert is about ``person``: it alone must be findable (a victim named only by
    # her first name does not make an alert about nobody actionable).
    check_alert_names_someone([subject], "person")
    others = [
        Subject(
            ref=o.ref,
            role=o.role,
            name=person_name(o.forename, o.surname),
            date_of_birth=o.dob,
            address=_address(o.address),
            safe_contact=o.safe_contact,
        )
        for o in record.others
    ]
    return Exchange(
        exchange_id=new_id(),
        source_partner=context.source_partner,
        submitted_at=context.received_at,
        category=Category.URGENT_ALERT,
        purposes=record.declared(),
        urgency=alert_urgency(record.urgency, True),
        case_reference=record.case_reference,
        subjects=[subject, *others],
        payload=Payload(alert=alert_section(record.alert, context.received_at)),
    )


def _native_address(address: dict[str, Any] | None) -> dict[str, Any] | None:
    if not address:
        return None
    return {k: address.get(k) for k in ("lines", "town", "postcode", "local_authority")}


def from_canonical(record: dict[str, Any]) -> dict[str, Any]:
    """Render a canonical alert (possibly minimised); the first subject is the person."""
    subjects = record.get("subjects") or []
    main: dict[str, Any] = next(iter(subjects), {})
    ids = identifier_values(main)
    name = main.get("name") or {}
    native = {
        "format": FORMAT,
        **native_purposes(record),
        "case_reference": record.get("case_reference"),
        "urgency": record.get("urgency"),
        "person": {
            "role": main.get("role") or SubjectRole.OTHER.value,
            "nhs_number": ids.get("nhs_number"),
            "pnc_id": ids.get("pnc_id"),
            "crn": ids.get("crn"),
            "noms_number": ids.get("noms_number"),
            "local_id": ids.get("local"),
            "forename": name.get("given"),
            "surname": name.get("family"),
            "dob": main.get("date_of_birth"),
            "gender": main.get("gender"),
            "address": _native_address(main.get("address")),
        },
        "others": [
            {
                "ref": s.get("ref"),
                "role": s.get("role"),
                "forename": (s.get("name") or {}).get("given"),
                "surname": (s.get("name") or {}).get("family"),
                "dob": s.get("date_of_birth"),
                "address": _native_address(s.get("address")),
                "safe_contact": s.get("safe_contact"),
            }
            for s in subjects[1:]
        ],
        "alert": native_alert((record.get("payload") or {}).get("alert")),
    }
    return drop_empty(native)
