"""FHIR adapter: validation, NHS numbers, supported types, and Bundles that validate again."""

from __future__ import annotations

import json

import pytest
from fhir.resources.R4B import get_fhir_model_class

from adapters.fhir.native import NHS_NUMBER_SYSTEM, SUPPORTED
from contracts import IdentifierSystem
from gateway.errors import BatchTooLarge, InvalidRecord, MalformedBody, UnsupportedMediaType
from tests.adapters.helpers import EXAMPLES, REGISTRY, canonical, parse

PATIENT = json.loads((EXAMPLES / "fhir" / "patient-uk-core.json").read_text())
ALERT = json.loads((EXAMPLES / "fhir" / "suicidal-ideation-alert-message.json").read_text())
FLAG = json.loads((EXAMPLES / "fhir" / "risk-indicator-flag.json").read_text())
VALID_NHS, WRONG_CHECK_DIGIT = "9990001006", "9990001007"


def _copy(value: dict) -> dict:
    return json.loads(json.dumps(value))


def _single_problem(body) -> tuple:
    with pytest.raises(InvalidRecord) as caught:
        parse("fhir", body)
    (problem,) = caught.value.problems
    return problem.record, problem.field, problem.message


def test_malformed_json_is_refused():
    with pytest.raises(MalformedBody):
        parse("fhir", b'{"resourceType": "Patient"')


def test_media_type_must_be_fhir_json():
    with pytest.raises(UnsupportedMediaType):
        parse("fhir", PATIENT, "application/xml")


def test_uk_core_patient_is_accepted_with_its_nhs_number():
    (exchange,) = parse("fhir", PATIENT).items
    (subject,) = exchange.subjects
    assert (subject.identifiers[0].system, subject.identifiers[0].value) == (
        IdentifierSystem.NHS_NUMBER,
        VALID_NHS,
    )


def test_nhs_number_with_spaces_is_accepted_and_normalised():
    patient = _copy(PATIENT)
    patient["identifier"][0]["value"] = "999 000 1006"
    (exchange,) = parse("fhir", patient).items
    assert exchange.subjects[0].identifiers[0].value == VALID_NHS


def test_wrong_nhs_check_digit_on_a_patient():
    patient = _copy(PATIENT)
    patient["identifier"][0]["value"] = WRONG_CHECK_DIGIT
    record, field, message = _single_problem(patient)
    assert (record, field) == (None, "identifier[0].value")
    assert "modulus 11" in message


def test_wrong_nhs_check_digit_in_a_bundle_names_the_entry():
    bundle = _copy(ALERT)
    bundle["entry"][1]["resource"]["identifier"][0]["value"] = WRONG_CHECK_DIGIT
    assert _single_problem(bundle)[:2] == (1, "entry[1].resource.identifier[0].value")


def test_wrong_nhs_check_digit_in_a_logical_reference():
    flag = _copy(FLAG)
    flag["subject"]["identifier"]["value"] = WRONG_CHECK_DIGIT
    assert _single_problem(flag)[:2] == (None, "subject.identifier.value")


def test_a_patient_without_an_nhs_number_is_refused():
    patient = _copy(PATIENT)
    patient["identifier"] = [i for i in patient["identifier"] if i["system"] != NHS_NUMBER_SYSTEM]
    _, field, message = _single_problem(patient)
    assert field == "identifier" and NHS_NUMBER_SYSTEM in message


def test_a_resource_that_names_no_patient_is_refused():
    flag = _copy(FLAG)
    flag["subject"] = {"display": "Lewis Granger"}
    assert _single_problem(flag)[:2] == (None, "subject")


def test_a_resource_failing_fhir_validation():
    flag = _copy(FLAG)
    del flag["status"]
    record, field, _ = _single_problem(flag)
    assert (record, field) == (None, "status")


def test_a_bundled_resource_failing_fhir_validation_names_the_entry():
    bundle = _copy(ALERT)
    bundle["entry"][1]["resource"]["birthDate"] = "2 March 1985"
    assert _single_problem(bundle)[:2] == (1, "entry[1].resource.birthDate")


@pytest.mark.parametrize("where", ["single", "bundle"])
def test_an_unsupported_resource_type_lists_the_supported_ones(where):
    encounter = {"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"}}
    body = encounter
    if where == "bundle":
        body = _copy(ALERT)
        body["entry"].append({"resource": encounter})
    with pytest.raises(InvalidRecord) as caught:
        parse("fhir", body)
    assert 400 <= caught.value.status < 500
    (problem,) = caught.value.problems
    assert problem.field.endswith("resourceType")
    for supported in SUPPORTED:
        assert supported in problem.message


def test_only_collection_transaction_and_message_bundles():
    bundle = _copy(ALERT)
    bundle["type"] = "searchset"
    assert _single_problem(bundle)[:2] == (None, "type")


def test_a_bundle_over_the_batch_limit_is_refused_before_any_entry_is_validated():
    """1001 entries that are not even resources: the count refuses them first."""
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{}] * 1001}
    with pytest.raises(BatchTooLarge) as caught:
        parse("fhir", bundle)
    assert "1001 entries" in caught.value.detail


def test_a_message_header_belongs_only_in_a_message():
    bundle = _copy(ALERT)
    bundle["type"] = "collection"
    assert _single_problem(bundle)[:2] == (0, "entry[0].resource.resourceType")


def test_refused_consent_needs_a_justification():
    consent = {
        "resourceType": "Consent",
        "status": "active",
        "scope": {"coding": [{"code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": VALID_NHS}},
        "provision": {"type": "deny"},
    }
    assert _single_problem(consent)[:2] == (None, "policyRule")


def test_a_bundle_about_two_patients_is_refused_naming_the_second():
    second = _copy(FLAG)
    second["subject"]["identifier"]["value"] = "9990001014"
    bundle = _copy(ALERT)
    bundle["entry"].append({"resource": second})
    record, field, message = _single_problem(bundle)
    assert (record, field) == (4, "entry[4].resource")
    assert "second patient" in message


def test_the_suicidal_ideation_flag_is_an_immediate_alert():
    (exchange,) = parse("fhir", ALERT).items
    assert exchange.payload.alert.kind == "suicidal_ideation"
    assert exchange.urgency == "immediate"
    assert exchange.case_reference == "HRU-2026-0142"


@pytest.mark.parametrize(
    ("adapter", "sample", "carrier"),
    [
        ("police", "stalking-crime.json", "Communication"),
        ("marac", "referral-visible-high-risk.json", "ServiceRequest"),
        ("probation", "licence-compliance.json", "RiskAssessment"),
        ("mappa", "meeting-outcome.json", "Communication"),
        ("fhir", "fact-engagement-collection.json", "Observation"),
    ],
)
def test_rendered_bundle_validates_and_references_the_patient(adapter, sample, carrier):
    (exchange,) = parse(adapter, (EXAMPLES / adapter / sample).read_bytes()).items[:1]
    rendered = REGISTRY.get("fhir").render(canonical(exchange))
    assert rendered.media_type == "application/fhir+json"
    bundle = json.loads(rendered.body)
    get_fhir_model_class("Bundle").model_validate(bundle)
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert "Patient" in kinds and carrier in kinds
    resource = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == carrier
    )
    assert "identifier" in resource["subject"]


def test_alert_renders_as_flag_with_nhs_number_reference():
    (exchange,) = parse("fhir", ALERT).items
    bundle = json.loads(REGISTRY.get("fhir").render(canonical(exchange)).body)
    flag = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Flag")
    assert flag["subject"]["identifier"] == {"system": NHS_NUMBER_SYSTEM, "value": VALID_NHS}


#: Resources shaped like NHS England's UK Core examples: a literal reference to a
#: Patient that is not sent, references to practitioners and encounters, narrative.
PATIENT_REF = {"reference": "Patient/UKCore-style-Patient-Example"}
NARRATIVE = {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'}
UK_CORE_STYLE = [
    {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "364075005"}]},
        "subject": PATIENT_REF,
        "effectiveDateTime": "2026-11-20T10:00:00+00:00",
        "valueQuantity": {
            "value": 72,
            "unit": "beats/minute",
            "system": "http://unitsofmeasure.org",
        },
    },
    {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "subject": PATIENT_REF,
        "requester": {"reference": "Practitioner/UKCore-style-Practitioner-Example"},
        "performer": [{"reference": "Organization/UKCore-style-Organization-Example"}],
        "authoredOn": "2026-11-20",
    },
    {
        "resourceType": "Consent",
        "status": "active",
        "scope": {"coding": [{"code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": PATIENT_REF,
        "dateTime": "2026-11-20T10:00:00+00:00",
        "provision": {"type": "permit"},
    },
    {
        "resourceType": "RiskAssessment",
        "status": "final",
        "subject": PATIENT_REF,
        "code": {"text": "Falls risk"},
        "encounter": {"reference": "Encounter/UKCore-style-Encounter-Example"},
    },
    {
        "resourceType": "Communication",
        "status": "completed",
        "subject": PATIENT_REF,
        "payload": [{"contentString": "Appointment letter sent"}],
    },
    {
        "resourceType": "Flag",
        "status": "active",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "91935009"}]},
        "subject": PATIENT_REF,
        "author": {"reference": "Practitioner/UKCore-style-Practitioner-Example"},
    },
]


@pytest.mark.parametrize("resource", UK_CORE_STYLE, ids=[r["resourceType"] for r in UK_CORE_STYLE])
def test_uk_core_style_resources_are_accepted(resource):
    resource = {**_copy(resource), "text": NARRATIVE}
    resource["meta"] = {
        "profile": [
            f"https://fhir.hl7.org.uk/StructureDefinition/UKCore-{resource['resourceType']}"
        ]
    }
    (exchange,) = parse("fhir", resource).items
    (identifier,) = exchange.subjects[0].identifiers
    assert (identifier.system, identifier.value) == (
        "local",
        "Patient/UKCore-style-Patient-Example",
    )
    rendered = REGISTRY.get("fhir").render(canonical(exchange))
    get_fhir_model_class("Bundle").model_validate(json.loads(rendered.body))
