"""Probation SPOC notification <-> canonical exchange, field by field.

CRN, NOMS number and PNC ID travel as subject identifiers; the restricted or
excluded mark travels as ``subjects[].access`` so policy can honour it at
every hop; a RoSH level is a risk section (tool ``RoSH``) a policy can test.
"""

from __future__ import annotations

from typing import Any

from adapters.alerts import alert_section, alert_urgency, native_alert
from adapters.base import (
    IngestContext,
    collect_identifiers,
    drop_empty,
    identifier_values,
    native_purposes,
    person_name,
)
from adapters.probation.native import NativeAddress, NativePerson, ProbationNotification
from contracts import (
    AccessLevel,
    AccessRestriction,
    Address,
    Category,
    ComplianceStatus,
    ConditionCompliance,
    Exchange,
    IdentifierSystem,
    MappaSection,
    Payload,
    ProbationEvent,
    ProbationSection,
    Recall,
    RiskLevel,
    RiskSection,
    RiskTool,
    Subject,
    SubjectRole,
)
from contracts.ids import new_id

FORMAT = "probation-spoc/1"
OFFENDER_REF = "O1"

CATEGORY_BY_EVENT = {
    ProbationEvent.COMPLIANCE: Category.COMPLIANCE,
    ProbationEvent.LICENCE_CONDITIONS: Category.COMPLIANCE,
    ProbationEvent.ROSH_CHANGE: Category.RISK_ASSESSMENT,
}


def _subject(note: ProbationNotification, source_partner: str) -> Subject:
    person = note.offender
    access = None
    if person.restriction:
        access = AccessRestriction(
            level=AccessLevel(person.restriction.type),
            named_staff=person.restriction.staff,
            set_by=source_partner,
            reason=person.restriction.reason,
        )
    return Subject(
        ref=OFFENDER_REF,
        role=SubjectRole.OFFENDER,
        identifiers=collect_identifiers(
            (IdentifierSystem.CRN, person.crn),
            (IdentifierSystem.NOMS_NUMBER, person.noms_number),
            (IdentifierSystem.PNC_ID, person.pnc_id),
        ),
        name=person_name(person.forename, person.surname),
        date_of_birth=person.dob,
        gender=person.gender,
        address=_address(person.address),
        access=access,
        # nDelius says which PDU manages the case: the notification's own.
        probation_pdu=note.pdu,
    )


def _address(native: NativeAddress | None) -> Address | None:
    return Address(**native.model_dump()) if native else None


def _person(person: NativePerson) -> Subject:
    return Subject(
        ref=person.ref,
        role=SubjectRole(person.role),
        name=person_name(person.forename, person.surname),
        date_of_birth=person.dob,
        gender=person.gender,
        address=_address(person.address),
        safe_contact=person.safe_contact,
    )


def to_canonical(note: ProbationNotification, context: IngestContext) -> Exchange:
    sentence = note.sentence
    alert = alert_section(note.alert, context.received_at) if note.alert else None
    risk = None
    if note.rosh:
        risk = RiskSection(
            tool=RiskTool.ROSH,
            level=RiskLevel(note.rosh.level),
            assessed_at=note.rosh.assessed,
            rationale=note.rosh.summary,
        )
    mappa = None
    if note.mappa:
        mappa = MappaSection(
            category=note.mappa.category,
            level=note.mappa.level,
            previous_category=note.mappa.previous_category,
            previous_level=note.mappa.previous_level,
            effective_from=note.mappa.effective,
        )
    recall = None
    if note.recall:
        recall = Recall(
            recalled_on=note.recall.date, recall_type=note.recall.type, reason=note.recall.reason
        )
    return Exchange(
        exchange_id=new_id(),
        source_partner=context.source_partner,
        submitted_at=context.received_at,
        category=Category.URGENT_ALERT
        if alert
        else CATEGORY_BY_EVENT.get(note.event, Category.OFFENDER_MANAGEMENT),
        purposes=note.declared(),
        urgency=alert_urgency(note.urgency, alert is not None),
        case_reference=note.case_reference,
        subjects=[_subject(note, context.source_partner), *map(_person, note.persons)],
        payload=Payload(
            alert=alert,
            risk=risk,
            mappa=mappa,
            probation=ProbationSection(
                event=note.event,
                notification_id=note.notification_id,
                pdu=note.pdu,
                supervising_officer=note.offender_manager,
                previous_supervising_officer=note.previous_offender_manager,
                sentence=sentence.description if sentence else None,
                licence_start=sentence.licence_start if sentence else None,
                licence_end=sentence.licence_end if sentence else None,
                licence_conditions=[
                    ConditionCompliance(
                        text=c.description,
                        kind=c.code,
                        compliance=ComplianceStatus(c.compliance),
                        noted_at=c.last_reviewed,
                        detail=c.notes,
                    )
                    for c in note.licence_conditions
                ],
                recall=recall,
                effective_from=note.effective_date,
                notes=note.notes,
            ),
        ),
    )


def _main_subject(subjects: list[dict[str, Any]]) -> dict[str, Any]:
    """The person the case is about: the offender, else a perpetrator or suspect, else the first."""
    for roles in (("offender",), ("perpetrator", "suspect")):
        found = next((s for s in subjects if s.get("role") in roles), None)
        if found:
            return found
    return next(iter(subjects), {})


#: Canonical roles a probation notification has no word for, as it renders them.
_PERSON_ROLES = ("victim", "child", "witness")


def _native_person(subject: dict[str, Any]) -> dict[str, Any]:
    name = subject.get("name") or {}
    role = subject.get("role")
    return {
        "ref": subject.get("ref"),
        "role": role if role in _PERSON_ROLES else "other",
        "forename": name.get("given"),
        "surname": name.get("family"),
        "dob": subject.get("date_of_birth"),
        "gender": subject.get("gender"),
        "address": subject.get("address"),
        "safe_contact": subject.get("safe_contact"),
    }


def _offender(subject: dict[str, Any]) -> dict[str, Any]:
    ids = identifier_values(subject)
    name = subject.get("name") or {}
    access = subject.get("access")
    return {
        "crn": ids.get("crn"),
        "noms_number": ids.get("noms_number"),
        "pnc_id": ids.get("pnc_id"),
        "forename": name.get("given"),
        "surname": name.get("family"),
        "dob": subject.get("date_of_birth"),
        "gender": subject.get("gender"),
        "address": subject.get("address"),
        "restriction": None
        if not access
        else {
            "type": access.get("level"),
            "staff": access.get("named_staff"),
            "reason": access.get("reason"),
        },
    }


def from_canonical(record: dict[str, Any]) -> dict[str, Any]:
    """Render a canonical record (possibly minimised: any field may be absent)."""
    payload = record.get("payload") or {}
    probation = payload.get("probation") or {}
    risk = payload.get("risk") or {}
    mappa = payload.get("mappa")
    recall = probation.get("recall")
    subjects = record.get("subjects") or []
    offender = _main_subject(subjects)
    native = {
        "format": FORMAT,
        "notification_id": probation.get("notification_id"),
        "event": probation.get("event"),
        **native_purposes(record),
        "case_reference": record.get("case_reference"),
        "urgency": record.get("urgency"),
        "pdu": probation.get("pdu") or offender.get("probation_pdu"),
        "offender_manager": probation.get("supervising_officer"),
        "previous_offender_manager": probation.get("previous_supervising_officer"),
        "offender": _offender(offender),
        "persons": [_native_person(s) for s in subjects if s is not offender],
        "sentence": {
            "description": probation.get("sentence"),
            "licence_start": probation.get("licence_start"),
            "licence_end": probation.get("licence_end"),
        },
        "licence_conditions": [
            {
                "code": c.get("kind"),
                "description": c.get("text"),
                "compliance": c.get("compliance"),
                "last_reviewed": c.get("noted_at"),
                "notes": c.get("detail"),
            }
            for c in probation.get("licence_conditions") or []
        ],
        "rosh": None
        if risk.get("tool") != "RoSH"
        else {
            "level": risk.get("level"),
            "assessed": risk.get("assessed_at"),
            "summary": risk.get("rationale"),
        },
        "mappa": None
        if not mappa
        else {
            "category": mappa.get("category"),
            "level": mappa.get("level"),
            "previous_category": mappa.get("previous_category"),
            "previous_level": mappa.get("previous_level"),
            "effective": mappa.get("effective_from"),
        },
        "recall": None
        if not recall
        else {
            "date": recall.get("recalled_on"),
            "type": recall.get("recall_type"),
            "reason": recall.get("reason"),
        },
        "effective_date": probation.get("effective_from"),
        "notes": probation.get("notes"),
        "alert": native_alert(payload.get("alert")),
    }
    return drop_empty(native)
