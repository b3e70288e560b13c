"""Canonical records out as a FHIR collection Bundle for NHS recipients.

Every resource references the patient by identifier (the NHS number where
known), so a recipient can match it without our internal ids. The adapter
validates the Bundle again before returning it.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar, cast

from adapters.base import record_purposes
from adapters.fhir import native as fx
from adapters.fhir.native import (
    FHIR_GENDERS,
    PRIORITY_BY_URGENCY,
    STATUS_BY_REFERRAL_OUTCOME,
)

_T = TypeVar("_T")

# -- outbound ---------------------------------------------------------------------------


def _profile(resource_type: str) -> dict[str, Any]:
    return {"profile": [fx.UK_CORE_PROFILE + resource_type]}


def _identifier(ident: dict[str, Any]) -> dict[str, Any]:
    if ident.get("system") == "nhs_number":
        return {"system": fx.NHS_NUMBER_SYSTEM, "value": ident.get("value")}
    system = fx.IDENTIFIER_SYSTEMS.get(
        ident.get("system") or "local", fx.IDENTIFIER_SYSTEMS["local"]
    )
    if ident.get("system") == "local" and ident.get("issuer", "").startswith("http"):
        system = ident["issuer"]
    return {"system": system, "value": ident.get("value")}


AGE_BAND_EXTENSION = "https://isg-gateway.example/fhir/StructureDefinition/age-band"
_ISO_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def _birth(subject: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]] | None]:
    """birthDate, or an age-band extension when minimisation generalised the date."""
    value = subject.get("date_of_birth")
    if value is None or _ISO_DATE.match(str(value)):
        return value, None
    return None, [{"url": AGE_BAND_EXTENSION, "valueString": str(value)}]


def _patient(subject: dict[str, Any]) -> dict[str, Any]:
    name = subject.get("name") or {}
    address = subject.get("address")
    gender = (subject.get("gender") or "").lower()
    birth_date, extensions = _birth(subject)
    role = subject.get("role")
    if role in fx.ROLE_CODES:
        # Said even for "patient": the recipient need not guess what the sender meant.
        extensions = [*(extensions or []), {"url": fx.SUBJECT_ROLE_EXTENSION, "valueCode": role}]
    return {
        "resourceType": "Patient",
        "meta": _profile("Patient"),
        "extension": extensions,
        "identifier": [_identifier(i) for i in subject.get("identifiers") or []],
        "name": [
            {
                "use": "official",
                "family": name.get("family"),
                "given": [name["given"]] if name.get("given") else None,
            }
        ]
        if name
        else None,
        "gender": gender if gender in FHIR_GENDERS else None,
        "birthDate": birth_date,
        "address": [
            {
                "line": address.get("lines"),
                "city": address.get("town"),
                "district": address.get("local_authority"),
                "postalCode": address.get("postcode"),
            }
        ]
        if address
        else None,
    }


def _related_person(subject: dict[str, Any], about: dict[str, Any]) -> dict[str, Any]:
    """A subject other than the patient (the victim of a perpetrator's record, say), as a
    RelatedPerson of the patient: one Bundle stays about one patient, and reads back."""
    person = _patient(subject)
    person["resourceType"] = "RelatedPerson"
    person["meta"] = _profile("RelatedPerson")
    person["patient"] = about
    return person


def _reference(subject: dict[str, Any]) -> dict[str, Any]:
    """A logical reference: the NHS number if known, else the first identifier."""
    identifiers = subject.get("identifiers") or []
    chosen = next((i for i in identifiers if i.get("system") == "nhs_number"), None)
    chosen = chosen or next(iter(identifiers), None)
    reference: dict[str, Any] = {"type": "Patient"}
    if chosen:
        reference["identifier"] = _identifier(chosen)
    name = subject.get("name") or {}
    display = " ".join(p for p in (name.get("given"), name.get("family")) if p)
    if display:
        reference["display"] = display
    return reference


def _concept(entry: dict[str, Any]) -> dict[str, Any]:
    coding = {k: entry.get(k) for k in ("system", "code") if entry.get(k)}
    if coding.get("code"):
        coding["display"] = entry.get("display")
    return {"coding": [coding] if coding.get("code") else None, "text": entry.get("display")}


def _observation_out(
    code: str, display: str, subject: dict[str, Any], **value: Any
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "meta": _profile("Observation"),
        "status": "final",
        "code": {"coding": [{"system": fx.ENGAGEMENT_SYSTEM, "code": code, "display": display}]},
        "subject": subject,
        **value,
    }


def _health_resources(health: dict[str, Any], subject: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for indicator in health.get("heightened_risk_indicators") or []:
        out.append(
            {
                "resourceType": "Flag",
                "meta": _profile("Flag"),
                "status": "active",
                "code": _concept(indicator),
                "subject": subject,
                "period": {"start": indicator.get("recorded_at")}
                if indicator.get("recorded_at")
                else None,
            }
        )
    for condition in health.get("conditions") or []:
        out.append(
            {
                "resourceType": "Condition",
                "meta": _profile("Condition"),
                "code": _concept(condition),
                "subject": subject,
                "recordedDate": condition.get("recorded_at"),
            }
        )
    performer = [{"display": health["clinician"]}] if health.get("clinician") else None
    measures = [
        ("intervention", "Intervention", "valueString", health.get("intervention")),
        (
            "engagement",
            "Engagement with intervention",
            "valueCodeableConcept",
            {"coding": [{"system": fx.ENGAGEMENT_SYSTEM, "code": health["engagement"]}]}
            if health.get("engagement")
            else None,
        ),
        ("sessions-offered", "Sessions offered", "valueInteger", health.get("sessions_offered")),
        ("sessions-attended", "Sessions attended", "valueInteger", health.get("sessions_attended")),
        (
            "intervention-completed",
            "Intervention completed",
            "valueBoolean",
            health.get("completed"),
        ),
    ]
    for code, display, value_key, value in measures:
        if value is None:
            continue
        extra: dict[str, Any] = {value_key: value, "performer": performer}
        if code == "intervention-completed" and health.get("completed_on"):
            extra["effectiveDateTime"] = health["completed_on"]
        out.append(_observation_out(code, display, subject, **extra))
    for observation in health.get("observations") or []:
        out.append(
            {
                "resourceType": "Observation",
                "meta": _profile("Observation"),
                "status": "final",
                "code": _concept(observation),
                "subject": subject,
                "effectiveDateTime": observation.get("recorded_at"),
                "valueString": observation.get("value"),
            }
        )
    return out


def _consent_out(consent: dict[str, Any], subject: dict[str, Any]) -> dict[str, Any]:
    given = consent.get("status") == "given"
    return {
        "resourceType": "Consent",
        "meta": _profile("Consent"),
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [
            {
                "coding": [
                    {"system": "http://loinc.org", "code": "59284-0", "display": "Patient Consent"}
                ]
            }
        ],
        "patient": subject,
        "dateTime": consent.get("recorded_at"),
        "policyRule": {"text": consent["justification"]} if consent.get("justification") else None,
        "provision": {"type": "permit" if given else "deny"},
    }


def _communication_out(
    record: dict[str, Any],
    text: str,
    about: dict[str, Any],
    health: dict[str, Any],
    generated: bool = False,
) -> dict[str, Any]:
    """A Communication carrying ``text``; a gateway-written summary is marked as such."""
    return {
        "resourceType": "Communication",
        "meta": _profile("Communication"),
        "status": "completed",
        "category": [{"coding": [{"system": fx.COMMUNICATION_SYSTEM, "code": "gateway-summary"}]}]
        if generated
        else None,
        "priority": PRIORITY_BY_URGENCY.get(record.get("urgency") or "routine"),
        "subject": about,
        "sender": {"display": health["clinician"]} if health.get("clinician") else None,
        "payload": [{"contentString": text}],
    }


def _summary_text(record: dict[str, Any]) -> str | None:
    """Plain words for an NHS recipient when the record is not itself health data."""
    payload = record.get("payload") or {}
    lines = []
    crime = payload.get("crime")
    if crime:
        offence = crime.get("offence") or {}
        details = [d for d in (offence.get("description"), crime.get("status")) if d]
        heading = f"Police occurrence {crime.get('occurrence_number')}"
        lines.append(f"{heading}: {', '.join(details)}" if details else heading)
    referral = payload.get("referral")
    if referral:
        dash = referral.get("dash") or {}
        ticks = f", DASH {dash['ticks']} of 24" if "ticks" in dash else ""
        to, by = referral.get("referred_to"), referral.get("referring_agency")
        lines.append(f"Referral to {to} by {by}{ticks}")
    probation = payload.get("probation")
    if probation:
        event = (probation.get("event") or "notification").replace("_", " ")
        pdu = f" ({probation['pdu']} PDU)" if probation.get("pdu") else ""
        lines.append(f"Probation {event}{pdu}")
    mappa = payload.get("mappa")
    if mappa:
        lines.append(f"MAPPA category {mappa.get('category')}, level {mappa.get('level')}")
    meeting = payload.get("meeting")
    if meeting:
        lines.append(f"{str(meeting.get('forum')).upper()} meeting {meeting.get('meeting_id')}")
    return "\n".join(lines) or None


#: FHIR elements that hold a dateTime; a time there must carry a zone.
DATETIME_ELEMENTS = frozenset(
    {
        "recordedDate",
        "start",
        "end",
        "occurrenceDateTime",
        "effectiveDateTime",
        "authoredOn",
        "dateTime",
        "timestamp",
        "sent",
    }
)


def _fhir_datetime(value: str) -> str:
    """A canonical datetime as FHIR wants it.

    Naive canonical datetimes only come from date-only FHIR values, so
    midnight goes back to a plain date and any other naive time is UTC.
    """
    if "T" not in value or value.endswith("Z") or "+" in value[10:] or "-" in value[10:]:
        return value
    return value[:10] if value.endswith("T00:00:00") else value + "Z"


def _zone_datetimes(value: _T) -> _T:
    if isinstance(value, dict):
        return cast(
            _T,
            {
                k: _fhir_datetime(v)
                if k in DATETIME_ELEMENTS and isinstance(v, str)
                else _zone_datetimes(v)
                for k, v in value.items()
            },
        )
    if isinstance(value, list):
        return cast(_T, [_zone_datetimes(v) for v in value])
    return value


def from_canonical(record: dict[str, Any]) -> dict[str, Any]:
    """A collection Bundle for NHS recipients; any canonical field may be absent."""
    subjects = record.get("subjects") or []
    payload = record.get("payload") or {}
    health = payload.get("health") or {}
    focus: dict[str, Any] = next(
        (
            s
            for s in subjects
            if any(i.get("system") == "nhs_number" for i in s.get("identifiers") or [])
        ),
        next(iter(subjects), {}),
    )
    about = _reference(focus)
    resources = [_patient(focus)] if focus else []
    if focus and not focus.get("identifiers") and focus.get("ref"):
        # Known only by name and date of birth (an alert's person): no identifier to
        # refer to, so the Patient gets the subject's ref as its id and is referred to by it.
        resources[0]["id"] = focus["ref"]
        about = {"reference": f"Patient/{focus['ref']}", **about}
    resources += [_related_person(s, about) for s in subjects if s is not focus]
    alert = payload.get("alert")
    if alert:
        resources.append(
            {
                "resourceType": "Flag",
                "meta": _profile("Flag"),
                "status": "active",
                "code": {
                    "coding": [
                        {"system": fx.SNOMED, "code": code, "display": fx.SNOMED_DISPLAY[code]}
                        for code, kind in fx.SNOMED_ALERTS.items()
                        if kind == alert.get("kind")
                    ]
                    + [
                        {"system": fx.ALERT_KIND_SYSTEM, "code": kind}
                        for kind in [alert.get("kind"), *(alert.get("indicators") or [])]
                        if kind
                    ],
                    "text": alert.get("detail"),
                },
                "subject": about,
                "period": {"start": alert.get("raised_at"), "end": alert.get("valid_until")},
                "author": {"display": alert["raised_by"]} if alert.get("raised_by") else None,
            }
        )
    risk = payload.get("risk")
    if risk:
        resources.append(
            {
                "resourceType": "RiskAssessment",
                "meta": _profile("RiskAssessment"),
                "status": "final",
                "subject": about,
                "method": {"coding": [{"system": fx.RISK_TOOL_SYSTEM, "code": risk.get("tool")}]}
                if risk.get("tool")
                else None,
                "occurrenceDateTime": risk.get("assessed_at"),
                "prediction": [
                    {
                        "qualitativeRisk": {
                            "coding": [{"system": fx.RISK_LEVEL_SYSTEM, "code": risk.get("level")}]
                        }
                        if risk.get("level")
                        else None,
                        "rationale": risk.get("rationale"),
                    }
                ],
            }
        )
    resources += _health_resources(health, about)
    consent = health.get("consent") or (payload.get("referral") or {}).get("consent")
    if consent:
        resources.append(_consent_out(consent, about))
    referral = payload.get("referral")
    if referral:
        resources.append(
            {
                "resourceType": "ServiceRequest",
                "meta": _profile("ServiceRequest"),
                "identifier": [{"system": fx.REFERRAL_ID_SYSTEM, "value": referral["referral_id"]}]
                if referral.get("referral_id")
                else None,
                "status": STATUS_BY_REFERRAL_OUTCOME.get(referral.get("outcome"), "active"),
                "intent": "order",
                "priority": PRIORITY_BY_URGENCY.get(record.get("urgency") or "routine"),
                "subject": about,
                "authoredOn": referral.get("referred_at"),
                "requester": {"display": referral.get("referring_agency")},
                "performer": [{"display": referral.get("referred_to")}],
                "reasonCode": [{"text": referral["reason"]}] if referral.get("reason") else None,
            }
        )
    if health.get("summary"):
        resources.append(_communication_out(record, health["summary"], about, health))
    summary = _summary_text(record)
    if summary:
        resources.append(_communication_out(record, summary, about, {}, generated=True))
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": record.get("submitted_at"),
        "meta": {"tag": [{"system": fx.PURPOSE_SYSTEM, "code": p} for p in record_purposes(record)]}
        if record_purposes(record)
        else None,
        "identifier": {"system": fx.CASE_REFERENCE_SYSTEM, "value": record["case_reference"]}
        if record.get("case_reference")
        else None,
        "entry": [{"resource": r} for r in resources],
    }
    return _zone_datetimes(bundle)
