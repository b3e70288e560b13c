"""Police crime record <-> canonical exchange, field by field."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.alerts import alert_section, alert_urgency, check_alert_names_someone, native_alert
from adapters.base import (
    IngestContext,
    collect_identifiers,
    drop_empty,
    identifier_values,
    native_purposes,
    person_name,
)
from adapters.police.native import (
    POLICE_ROLES,
    NativeAddress,
    NativeArrest,
    NativeCondition,
    NativeDisposal,
    NativeOccurrence,
    NativeOrder,
    NativePerson,
    PoliceCrimeRecord,
)
from adapters.police.offences import classify
from contracts import (
    Address,
    ArrestEvent,
    Category,
    CivilOrder,
    CivilOrderKind,
    CivilOrderStage,
    ComplianceStatus,
    ConditionCompliance,
    CrimeSection,
    CustodyOutcome,
    Disposal,
    DisposalKind,
    Exchange,
    IdentifierSystem,
    Offence,
    Payload,
    RiskLevel,
    RiskSection,
    RiskTool,
    Subject,
    SubjectRole,
)
from contracts.ids import new_id
from gateway.errors import FieldProblem, InvalidRecord

#: Canonical roles a police record has no word for, as it renders them.
_ROLE_OUT = {"offender": "suspect", "patient": "other"}

CATEGORY_BY_RECORD_TYPE = {
    "crime": Category.CRIME_RECORD,
    "custody": Category.CUSTODY_EVENT,
    "disposal": Category.DISPOSAL,
    "order": Category.CIVIL_ORDER,
    "alert": Category.URGENT_ALERT,
}
RECORD_TYPE_BY_CATEGORY = {v.value: k for k, v in CATEGORY_BY_RECORD_TYPE.items()}

ORDER_KIND = {
    "SPO": CivilOrderKind.STALKING_PROTECTION_ORDER,
    "ISPO": CivilOrderKind.INTERIM_STALKING_PROTECTION_ORDER,
    "NMO": CivilOrderKind.NON_MOLESTATION_ORDER,
    "RO": CivilOrderKind.RESTRAINING_ORDER,
}
ORDER_TYPE = {v.value: k for k, v in ORDER_KIND.items()}


def _address(native: NativeAddress | None, no_fixed_abode: bool | None) -> Address | None:
    """The address, carrying the NFA mark; an NFA person without one still gets the mark."""
    if native is None:
        return Address(no_fixed_abode=True) if no_fixed_abode else None
    return Address(
        lines=native.lines,
        town=native.town,
        postcode=native.postcode,
        local_authority=native.district,
        no_fixed_abode=no_fixed_abode,
    )


def _subject(person: NativePerson) -> Subject:
    return Subject(
        ref=person.ref,
        role=SubjectRole(person.role),
        identifiers=collect_identifiers(
            (IdentifierSystem.PNC_ID, person.pnc_id),
            (IdentifierSystem.LOCAL, person.local_id),
            local_issuer="police",
        ),
        name=person_name(person.forename, person.surname),
        date_of_birth=person.dob,
        gender=person.gender,
        address=_address(person.address, person.no_fixed_abode),
        safe_contact=person.safe_contact,
        probation_pdu=person.probation_pdu,
    )


def _legislation(act: str | None, section: str | None) -> str | None:
    if act and section:
        return f"{act} s{section}"
    return act or (f"s{section}" if section else None)


def _condition(native: NativeCondition) -> ConditionCompliance:
    return ConditionCompliance(
        text=native.text,
        kind=native.type,
        compliance=ComplianceStatus(native.compliance),
        noted_at=native.noted,
        detail=native.detail,
    )


def check_person_refs(record: PoliceCrimeRecord, row: int | None = None) -> None:
    """Every arrest, disposal and order must name a person in ``persons``."""
    known = {p.ref for p in record.persons}
    sections: tuple[tuple[str, Sequence[NativeArrest | NativeDisposal | NativeOrder]], ...] = (
        ("arrests", record.arrests),
        ("disposals", record.disposals),
        ("orders", record.orders),
    )
    problems = [
        FieldProblem(f"{section}[{i}].person_ref", f"no person with ref {item.person_ref!r}", row)
        for section, items in sections
        for i, item in enumerate(items)
        if item.person_ref not in known
    ]
    if problems:
        raise InvalidRecord("the police crime record names a person it does not list", problems)


def check_record_type(record: PoliceCrimeRecord, row: int | None = None) -> None:
    """An alert record carries an alert block and may lack an occurrence; every other
    record has an occurrence, and an alert block on it would be silently a crime record."""
    problems = []
    if record.kind == "alert" and record.alert is None:
        problems.append(FieldProblem("alert", "a record of type alert needs an alert block", row))
    if record.kind != "alert" and record.alert is not None:
        problems.append(
            FieldProblem(
                "record_type",
                f"a record with an alert block is of type alert, not {record.kind!r} "
                "(leave record_type out, or send the alert as its own record)",
                row,
            )
        )
    if record.kind != "alert" and record.occurrence is None:
        problems.append(FieldProblem("occurrence", "required field is missing", row))
    if problems:
        raise InvalidRecord("the police record is not valid", problems)


def _crime(occ: NativeOccurrence | None) -> CrimeSection | None:
    if occ is None:
        return None
    return CrimeSection(
        occurrence_number=occ.number,
        offence=Offence(
            code=occ.offence.ho_code,
            legislation=_legislation(occ.offence.act, occ.offence.section),
            description=occ.offence.title,
            offence_class=classify(
                occ.offence.act, occ.offence.section, occ.offence.classification
            ),
        ),
        reported_at=occ.reported,
        occurred_from=occ.committed_from,
        occurred_to=occ.committed_to,
        status=occ.status,
        summary=occ.circumstances,
        officer_in_case=occ.officer_in_case,
    )


def to_canonical(
    record: PoliceCrimeRecord, context: IngestContext, row: int | None = None
) -> Exchange:
    alert = alert_section(record.alert, context.received_at, record=row) if record.alert else None
    subjects = [_subject(p) for p in record.persons]
    if alert:
        check_alert_names_someone(subjects, "persons", row)
    risk = None
    if record.risk:
        risk = RiskSection(
            tool=RiskTool(record.risk.tool),
            level=RiskLevel(record.risk.level),
            score=record.risk.score,
            assessed_at=record.risk.assessed,
        )
    return Exchange(
        exchange_id=new_id(),
        source_partner=context.source_partner,
        submitted_at=context.received_at,
        category=CATEGORY_BY_RECORD_TYPE[record.kind],
        purposes=record.declared(),
        urgency=alert_urgency(record.urgency, alert is not None),
        case_reference=record.case_reference,
        subjects=subjects,
        payload=Payload(
            crime=_crime(record.occurrence),
            alert=alert,
            risk=risk,
            arrests=[
                ArrestEvent(
                    subject_ref=a.person_ref,
                    arrested_at=a.arrested,
                    reason=a.reason,
                    custody_number=a.custody_number,
                    custody_suite=a.custody_suite,
                    released_at=a.released,
                    outcome=CustodyOutcome(a.outcome) if a.outcome else None,
                    bail_conditions=a.bail_conditions,
                    bail_return_on=a.bail_return,
                )
                for a in record.arrests
            ],
            disposals=[
                Disposal(
                    subject_ref=d.person_ref,
                    kind=DisposalKind(d.type),
                    decided_at=d.decided,
                    offence_code=d.ho_code,
                    court=d.court,
                    first_hearing_on=d.first_hearing,
                    conditions=[_condition(c) for c in d.conditions],
                )
                for d in record.disposals
            ],
            orders=[
                CivilOrder(
                    subject_ref=o.person_ref,
                    kind=ORDER_KIND[o.type],
                    stage=CivilOrderStage(o.stage),
                    reference=o.order_ref,
                    court=o.court,
                    applied_on=o.applied,
                    decided_on=o.decided,
                    expires_on=o.expires,
                    prohibitions=[_condition(c) for c in o.prohibitions],
                    requirements=[_condition(c) for c in o.requirements],
                )
                for o in record.orders
            ],
        ),
    )


def _split_legislation(text: str | None) -> tuple[str | None, str | None]:
    if not text:
        return None, None
    act, sep, section = text.rpartition(" s")
    return (act, section) if sep else (text, None)


def _native_condition(condition: dict[str, Any]) -> dict[str, Any]:
    return {
        "text": condition.get("text"),
        "type": condition.get("kind"),
        "compliance": condition.get("compliance"),
        "noted": condition.get("noted_at"),
        "detail": condition.get("detail"),
    }


def _native_person(subject: dict[str, Any]) -> dict[str, Any]:
    ids = identifier_values(subject)
    name = subject.get("name") or {}
    address = subject.get("address")
    role = subject.get("role")
    home = {k: v for k, v in (address or {}).items() if k != "no_fixed_abode"}
    return {
        "ref": subject.get("ref"),
        "role": role if role in POLICE_ROLES else _ROLE_OUT.get(role or "", "other"),
        "pnc_id": ids.get("pnc_id"),
        "local_id": ids.get("local"),
        "forename": name.get("given"),
        "surname": name.get("family"),
        "dob": subject.get("date_of_birth"),
        "gender": subject.get("gender"),
        "address": None
        if not home
        else {
            "lines": home.get("lines"),
            "town": home.get("town"),
            "postcode": home.get("postcode"),
            "district": home.get("local_authority"),
        },
        "no_fixed_abode": (address or {}).get("no_fixed_abode"),
        "safe_contact": subject.get("safe_contact"),
        "probation_pdu": subject.get("probation_pdu"),
    }


def from_canonical(record: dict[str, Any]) -> dict[str, Any]:
    """Render a canonical record (possibly minimised: any field may be absent)."""
    payload = record.get("payload") or {}
    crime = payload.get("crime") or {}
    offence = crime.get("offence") or {}
    act, section = _split_legislation(offence.get("legislation"))
    risk = payload.get("risk")
    native = {
        "format": "police-crime/1",
        "record_type": RECORD_TYPE_BY_CATEGORY.get(record.get("category") or "", "crime"),
        **native_purposes(record),
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
                "classification": offence.get("offence_class"),
            },
            "circumstances": crime.get("summary"),
            "officer_in_case": crime.get("officer_in_case"),
        },
        "persons": [_native_person(s) for s in record.get("subjects") or []],
        "risk": None
        if not risk
        else {
            "tool": risk.get("tool"),
            "level": risk.get("level"),
            "score": risk.get("score"),
            "assessed": risk.get("assessed_at"),
        },
        "arrests": [
            {
                "person_ref": a.get("subject_ref"),
                "arrested": a.get("arrested_at"),
                "reason": a.get("reason"),
                "custody_number": a.get("custody_number"),
                "custody_suite": a.get("custody_suite"),
                "released": a.get("released_at"),
                "outcome": a.get("outcome"),
                "bail_conditions": a.get("bail_conditions"),
                "bail_return": a.get("bail_return_on"),
            }
            for a in payload.get("arrests") or []
        ],
        "disposals": [
            {
                "person_ref": d.get("subject_ref"),
                "type": d.get("kind"),
                "decided": d.get("decided_at"),
                "ho_code": d.get("offence_code"),
                "court": d.get("court"),
                "first_hearing": d.get("first_hearing_on"),
                "conditions": [_native_condition(c) for c in d.get("conditions") or []],
            }
            for d in payload.get("disposals") or []
        ],
        "alert": native_alert(payload.get("alert")),
        "orders": [
            {
                "person_ref": o.get("subject_ref"),
                "type": ORDER_TYPE.get(o.get("kind") or ""),
                "stage": o.get("stage"),
                "order_ref": o.get("reference"),
                "court": o.get("court"),
                "applied": o.get("applied_on"),
                "decided": o.get("decided_on"),
                "expires": o.get("expires_on"),
                "prohibitions": [_native_condition(c) for c in o.get("prohibitions") or []],
                "requirements": [_native_condition(c) for c in o.get("requirements") or []],
            }
            for o in payload.get("orders") or []
        ],
    }
    return drop_empty(native)
