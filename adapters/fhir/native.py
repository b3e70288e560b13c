"""The FHIR R4 native format: supported resources, code systems, validation.

NHS partners send ``application/fhir+json`` (or ``application/fhir+xml``,
read into the same JSON form by ``xml_format.py``): a single resource or a Bundle
(collection, transaction or message) of the types in :data:`SUPPORTED`.
Everything is validated with fhir.resources' R4B models (R4B shares R4's
structure for these resources) before any field is read, so a resource that
is not valid FHIR is refused with the element that is wrong.

Where FHIR has no standard code for a gateway concept (an urgent alert kind,
an engagement measure, the partnership's case reference) the gateway uses its
own code systems under :data:`GATEWAY_BASE`, listed in ``docs/formats/fhir.md``.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from adapters.base import check_batch_size, check_text
from contracts import RiskLevel, SubjectRole, Urgency
from gateway.errors import FieldProblem, InvalidRecord, field_path

MEDIA_TYPE = "application/fhir+json"
#: FHIR XML; read into the JSON form by ``xml_format`` and handled like JSON from then on.
XML_MEDIA_TYPE = "application/fhir+xml"

#: Clinical and administrative resources the adapter reads and writes.
SUPPORTED = (
    "Communication",
    "Condition",
    "Consent",
    "Flag",
    "Observation",
    "Patient",
    "RelatedPerson",
    "RiskAssessment",
    "ServiceRequest",
)
BUNDLE_TYPES = ("collection", "message", "transaction")

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
UK_CORE_PROFILE = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-"
NHS_NUMBER_VERIFICATION_URL = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"
)
SNOMED = "http://snomed.info/sct"
HL7_RISK_PROBABILITY = "http://terminology.hl7.org/CodeSystem/risk-probability"

GATEWAY_BASE = "https://isg-gateway.example/fhir/"
ALERT_KIND_SYSTEM = GATEWAY_BASE + "CodeSystem/alert-kind"
ENGAGEMENT_SYSTEM = GATEWAY_BASE + "CodeSystem/intervention-engagement"
RISK_TOOL_SYSTEM = GATEWAY_BASE + "CodeSystem/risk-tool"
RISK_LEVEL_SYSTEM = GATEWAY_BASE + "CodeSystem/risk-level"
PURPOSE_SYSTEM = GATEWAY_BASE + "CodeSystem/purpose"
COMMUNICATION_SYSTEM = GATEWAY_BASE + "CodeSystem/communication-kind"
CASE_REFERENCE_SYSTEM = GATEWAY_BASE + "Id/case-reference"
REFERRAL_ID_SYSTEM = GATEWAY_BASE + "Id/referral"
#: Person identifier systems other than the NHS number, by canonical system.
IDENTIFIER_SYSTEMS = {
    "pnc_id": GATEWAY_BASE + "Id/pnc-id",
    "crn": GATEWAY_BASE + "Id/crn",
    "noms_number": GATEWAY_BASE + "Id/noms-number",
    "local": GATEWAY_BASE + "Id/local",
}

#: SNOMED CT findings that raise an urgent alert when flagged.
SNOMED_ALERTS = {"6471006": "suicidal_ideation"}
SNOMED_DISPLAY = {"6471006": "Suicidal thoughts"}

#: The role a person has in the matter (victim, perpetrator ...): an extension on a
#: Patient, or on the reference (``subject``/``patient``) of a resource about them,
#: with ``valueCode`` one of :data:`ROLE_CODES`. Without it the person is a ``patient``
#: and the sender's registration in the agreement (``patient_role``) decides.
SUBJECT_ROLE_EXTENSION = GATEWAY_BASE + "StructureDefinition/subject-role"
ROLE_CODES: tuple[str, ...] = tuple(role.value for role in SubjectRole)

#: Qualitative risk codes (HL7 risk-probability and our risk-level) -> canonical level.
RISK_LEVEL_BY_CODE = {
    "negligible": RiskLevel.LOW,
    "low": RiskLevel.LOW,
    "moderate": RiskLevel.MEDIUM,
    "medium": RiskLevel.MEDIUM,
    "standard": RiskLevel.STANDARD,
    "high": RiskLevel.HIGH,
    "certain": RiskLevel.VERY_HIGH,
    "very_high": RiskLevel.VERY_HIGH,
}
URGENCY_BY_PRIORITY = {
    "routine": Urgency.ROUTINE,
    "urgent": Urgency.URGENT,
    "asap": Urgency.URGENT,
    "stat": Urgency.IMMEDIATE,
}
#: Communication priorities that make a message coded with an alert indicator an alert.
ALERT_PRIORITIES = ("stat", "asap")
PRIORITY_BY_URGENCY = {"routine": "routine", "urgent": "urgent", "immediate": "stat"}
REFERRAL_OUTCOME_BY_STATUS = {"active": "pending", "completed": "accepted", "revoked": "declined"}
STATUS_BY_REFERRAL_OUTCOME = {v: k for k, v in REFERRAL_OUTCOME_BY_STATUS.items()}
FHIR_GENDERS = {"male", "female", "other", "unknown"}


def _prefixed(prefix: str, loc: tuple[int | str, ...]) -> str:
    inner = field_path(loc)
    if not prefix:
        return inner
    return prefix + ("" if inner.startswith("[") else ".") + inner


def unsupported(resource_type: Any, field: str, record: int | None) -> InvalidRecord:
    return InvalidRecord(
        f"FHIR resource type {resource_type!r} is not supported",
        [
            FieldProblem(
                field,
                f"unsupported resource type {resource_type!r}; supported: "
                f"{', '.join(SUPPORTED)} (alone or in a Bundle of type "
                f"{', '.join(BUNDLE_TYPES)})",
                record,
            )
        ],
    )


def validate_resource(resource: Any, prefix: str = "", record: int | None = None) -> dict[str, Any]:
    """Validate one resource with its R4B model; return its normalised JSON form."""
    field = _prefixed(prefix, ("resourceType",))
    if not isinstance(resource, dict) or "resourceType" not in resource:
        raise InvalidRecord(
            "not a FHIR resource", [FieldProblem(field, "required field is missing", record)]
        )
    resource_type = resource["resourceType"]
    allowed = (*SUPPORTED, "MessageHeader") if prefix else SUPPORTED
    if resource_type not in allowed:
        raise unsupported(resource_type, field, record)
    check_text(resource, f"FHIR {resource_type}", record, prefix=prefix)
    try:
        model = get_fhir_model_class(resource_type).model_validate(resource)
    except ValidationError as exc:
        raise InvalidRecord(
            f"the FHIR {resource_type} is not valid",
            [
                FieldProblem(_prefixed(prefix, err["loc"]), err["msg"], record)
                for err in exc.errors(include_url=False)
            ],
        ) from None
    return model.model_dump(mode="json", exclude_none=True)


def validate_bundle(bundle: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Check a Bundle's type and every entry; return the bundle and its resources.

    Problems name the entry index as the record and the element as the field,
    e.g. record 2, field ``entry[2].resource.status``.
    """
    if bundle.get("type") not in BUNDLE_TYPES:
        raise InvalidRecord(
            f"Bundle type {bundle.get('type')!r} is not accepted",
            [FieldProblem("type", f"must be one of {', '.join(BUNDLE_TYPES)}")],
        )
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise InvalidRecord("Bundle.entry is not a list", [FieldProblem("entry", "not a list")])
    check_batch_size(len(entries), noun="entries")  # before any entry is validated
    resources = []
    for index, entry in enumerate(entries):
        raw = entry.get("resource") if isinstance(entry, dict) else None
        resource = validate_resource(raw, f"entry[{index}].resource", index)
        if resource["resourceType"] == "MessageHeader" and bundle["type"] != "message":
            raise InvalidRecord(
                "a MessageHeader belongs only in a message Bundle",
                [FieldProblem(f"entry[{index}].resource.resourceType", "unexpected", index)],
            )
        resource["_fullUrl"] = entry.get("fullUrl")
        resource["_index"] = index
        resources.append(resource)
    envelope = {k: v for k, v in bundle.items() if k != "entry"}
    check_text(envelope, "FHIR Bundle")
    try:
        get_fhir_model_class("Bundle").model_validate(envelope)
    except ValidationError as exc:
        raise InvalidRecord(
            "the FHIR Bundle is not valid",
            [FieldProblem(field_path(e["loc"]), e["msg"]) for e in exc.errors(include_url=False)],
        ) from None
    return envelope, resources
