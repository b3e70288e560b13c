"""Issue 16 in every native format: several purposes (or none), and who each person is.

Each format may declare one purpose, several, or none (the sender's registration
then decides, so the adapter must leave the list empty rather than guess); a
recipient's copy, which has exactly one purpose, renders it in the single form.
Each format says whether a person is the suspect or perpetrator, the victim, a
child, a witness or someone else; FHIR says it with the subject-role extension.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.fhir.native import PURPOSE_SYSTEM, SUBJECT_ROLE_EXTENSION
from contracts import Exchange, SubjectRole
from gateway.errors import InvalidRecord
from tests.adapters.helpers import EXAMPLES, REGISTRY, canonical, parse

TWO = ["stalking-risk-management", "victim-safeguarding"]


def _sample(path: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXAMPLES / path).read_text())
    return loaded


def _one(adapter: str, body: Any, media_type: str | None = None) -> Exchange:
    items = parse(adapter, body, media_type).items
    assert len(items) == 1 and isinstance(items[0], Exchange), items
    return items[0]


def _refused(adapter: str, body: Any, media_type: str | None = None) -> list[tuple[str, str]]:
    with pytest.raises(InvalidRecord) as caught:
        parse(adapter, body, media_type)
    assert caught.value.status == 422
    return [(p.field, p.message) for p in caught.value.problems]


def _without_purposes(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in ("purpose", "purposes")}


def _render(adapter: str, exchange: Exchange) -> Any:
    return json.loads(REGISTRY.get(adapter).render(canonical(exchange)).body)


def _read_back(adapter: str, exchange: Exchange) -> Exchange:
    rendered = REGISTRY.get(adapter).render(canonical(exchange))
    return _one(adapter, rendered.body, rendered.media_type)


#: One JSON sample per single-record native format, with its own purpose field.
JSON_SAMPLES = {
    "police": "police/stalking-crime.json",
    "probation": "probation/licence-compliance.json",
    "marac": "marac/referral-visible-high-risk.json",
    "mappa": "mappa/level-change.json",
}


# --- several purposes, or none -------------------------------------------------------


@pytest.mark.parametrize("adapter", sorted(JSON_SAMPLES))
def test_a_native_record_may_declare_no_purpose_and_the_adapter_invents_none(adapter):
    exchange = _one(adapter, _without_purposes(_sample(JSON_SAMPLES[adapter])))
    assert exchange.purposes == [] and exchange.purpose is None


@pytest.mark.parametrize("adapter", sorted(JSON_SAMPLES))
def test_a_native_record_may_declare_several_purposes_in_order(adapter):
    record = {**_without_purposes(_sample(JSON_SAMPLES[adapter])), "purposes": TWO[::-1]}
    exchange = _one(adapter, record)
    assert exchange.purposes == TWO[::-1]
    assert exchange.purpose == "victim-safeguarding"


@pytest.mark.parametrize("adapter", sorted(JSON_SAMPLES))
def test_purpose_comes_first_and_may_be_named_again_in_purposes(adapter):
    record = _without_purposes(_sample(JSON_SAMPLES[adapter]))
    merged = _one(adapter, {**record, "purpose": TWO[1], "purposes": [TWO[0]]})
    assert merged.purposes == [TWO[1], TWO[0]]
    repeated = _one(adapter, {**record, "purpose": TWO[0], "purposes": TWO})
    assert repeated.purposes == TWO


@pytest.mark.parametrize("adapter", sorted(JSON_SAMPLES))
def test_several_purposes_render_as_a_list_and_read_back(adapter):
    record = {**_without_purposes(_sample(JSON_SAMPLES[adapter])), "purposes": TWO}
    exchange = _one(adapter, record)
    native = _render(adapter, exchange)
    assert native["purposes"] == TWO and "purpose" not in native
    assert _read_back(adapter, exchange).purposes == TWO


@pytest.mark.parametrize("adapter", sorted(JSON_SAMPLES))
def test_a_copy_renders_the_one_purpose_it_was_permitted_under(adapter):
    exchange = _one(adapter, {**_sample(JSON_SAMPLES[adapter]), "purposes": TWO})
    copy = canonical(exchange)
    copy["purposes"], copy["purpose"] = ["victim-safeguarding"], "victim-safeguarding"
    native = json.loads(REGISTRY.get(adapter).render(copy).body)
    assert native.get("purpose") == "victim-safeguarding" and "purposes" not in native


@pytest.mark.parametrize("adapter", sorted(JSON_SAMPLES))
def test_a_purpose_that_is_not_an_id_is_refused_naming_the_field(adapter):
    record = _without_purposes(_sample(JSON_SAMPLES[adapter]))
    ((field, message),) = _refused(
        adapter, {**record, "purposes": ["stalking-risk-management", "Victim safety"]}
    )
    assert field == "purposes[1]"
    assert "'Victim safety' is not a purpose id" in message
    ((field, _),) = _refused(adapter, {**record, "purpose": ""})
    assert field == "purpose"


@pytest.mark.parametrize("adapter", sorted(JSON_SAMPLES))
def test_a_purpose_listed_twice_is_refused(adapter):
    record = {**_without_purposes(_sample(JSON_SAMPLES[adapter])), "purposes": [TWO[0], TWO[0]]}
    ((_, message),) = _refused(adapter, record)
    assert "purpose 'stalking-risk-management' is listed twice" in message


def test_too_many_purposes_are_refused():
    record = {**_sample("police/stalking-crime.json"), "purposes": [f"p{i}" for i in range(9)]}
    ((_, message),) = _refused("police", record)
    assert "at most 8 purposes" in message


def test_the_two_purpose_police_sample_declares_both():
    exchange = _one("police", _sample("police/stalking-crime-two-purposes.json"))
    assert exchange.purposes == TWO


def test_a_meeting_feed_gives_every_case_its_purposes_or_none():
    feed = _sample("marac/meeting-feed.json")
    several = parse("marac", {**_without_purposes(feed), "purposes": TWO}).items
    none = parse("marac", _without_purposes(feed)).items
    assert [e.purposes for e in several if isinstance(e, Exchange)] == [TWO] * len(several)
    assert all(isinstance(e, Exchange) and e.purposes == [] for e in none)


# --- the daily screening batch -------------------------------------------------------

HEADER = "occurrence_number,ho_code,suspect_pnc_id"


def test_a_screening_csv_without_purposes_leaves_them_to_the_registration():
    body = f"{HEADER}\nCC-1,8Q,12/345678A\n"
    (row,) = parse("police", body, "text/csv").items
    assert isinstance(row, Exchange) and row.purposes == []


def test_a_screening_csv_cell_lists_several_purposes_with_semicolons():
    body = f"{HEADER},purposes\nCC-1,8Q,12/345678A,stalking-risk-management; victim-safeguarding\n"
    (row,) = parse("police", body, "text/csv").items
    assert isinstance(row, Exchange) and row.purposes == TWO


def test_a_bad_purpose_in_a_screening_row_refuses_only_that_row():
    rows = "CC-1,8Q,12/345678A,Stalking\nCC-2,8Q,12/345678A,victim-safeguarding\n"
    body = f"{HEADER},purposes\n{rows}"
    bad, good = parse("police", body, "text/csv").items
    assert isinstance(bad, InvalidRecord)
    assert [(p.field, p.record) for p in bad.problems] == [("purposes[0]", 0)]
    assert isinstance(good, Exchange) and good.purposes == ["victim-safeguarding"]


def test_a_json_screening_batch_gives_its_purposes_to_rows_that_name_none():
    row = {"occurrence_number": "WM-1", "ho_code": "8Q", "suspect_pnc_id": "10/443120H"}
    batch = {
        "format": "police-screening/1",
        "search_date": "2026-11-25",
        "purposes": TWO,
        "rows": [row, {**row, "occurrence_number": "WM-2", "purpose": "stalking-triage"}],
    }
    first, second = parse("police", batch).items
    assert isinstance(first, Exchange) and first.purposes == TWO
    assert isinstance(second, Exchange) and second.purposes == ["stalking-triage"]
    del batch["purposes"]
    first, _ = parse("police", batch).items
    assert isinstance(first, Exchange) and first.purposes == []


def test_a_screening_row_marks_the_suspect_nfa_and_names_the_pdu():
    body = f"{HEADER},suspect_no_fixed_abode,suspect_probation_pdu\nCC-1,8Q,12/345678A,true,East\n"
    (row,) = parse("police", body, "text/csv").items
    assert isinstance(row, Exchange)
    (suspect,) = row.subjects
    assert suspect.address is not None and suspect.address.no_fixed_abode is True
    assert suspect.probation_pdu == "East"


# --- police roles, NFA, PDU ---------------------------------------------------------


def _police_with_person(**person: Any) -> dict[str, Any]:
    record = _sample("police/stalking-crime.json")
    record["persons"][0] = {"ref": "P1", "role": "suspect", "surname": "Marsh", **person}
    return record


@pytest.mark.parametrize("role", ["suspect", "perpetrator", "victim", "child", "witness", "other"])
def test_police_roles_map_one_to_one_and_back(role):
    exchange = _one("police", _police_with_person(role=role))
    assert exchange.subjects[0].role == role
    assert _render("police", exchange)["persons"][0]["role"] == role


def test_an_unknown_police_role_is_refused_naming_the_roles():
    ((field, message),) = _refused("police", _police_with_person(role="offender"))
    assert field == "persons[0].role"
    assert "'child'" in message and "'perpetrator'" in message


@pytest.mark.parametrize(("role", "rendered"), [("offender", "suspect"), ("patient", "other")])
def test_roles_police_has_no_word_for_render_as_the_nearest(role, rendered):
    exchange = _one("police", _sample("police/stalking-crime.json"))
    exchange.subjects[0].role = SubjectRole(role)
    assert _render("police", exchange)["persons"][0]["role"] == rendered


def test_an_nfa_suspect_has_the_mark_and_no_address_and_keeps_it_out_and_back():
    exchange = _one("police", _sample("police/stalking-crime-suspect-no-fixed-abode.json"))
    suspect = exchange.subjects[0]
    assert suspect.role == "suspect"
    assert suspect.address is not None
    assert suspect.address.no_fixed_abode is True
    assert suspect.address.lines == [] and suspect.address.local_authority is None
    person = _render("police", exchange)["persons"][0]
    assert person["no_fixed_abode"] is True and "address" not in person
    assert _read_back("police", exchange).subjects[0].address == suspect.address


def test_nfa_with_a_street_address_is_a_contradiction():
    record = _police_with_person(no_fixed_abode=True, address={"lines": ["1 High St"]})
    ((field, message),) = _refused("police", record)
    assert field == "persons[0]"
    assert "no fixed abode has no address lines" in message


def test_nfa_with_only_the_district_where_found_is_kept():
    record = _police_with_person(no_fixed_abode=True, address={"district": "Halton"})
    address = _one("police", record).subjects[0].address
    assert address is not None
    assert (address.no_fixed_abode, address.local_authority) == (True, "Halton")


def test_a_suspects_probation_pdu_goes_both_ways():
    exchange = _one("police", _sample("police/stalking-crime-two-purposes.json"))
    roles = {s.ref: (s.role, s.probation_pdu) for s in exchange.subjects}
    assert roles == {"S1": ("suspect", "East"), "V1": ("victim", None), "C1": ("child", None)}
    assert _render("police", exchange)["persons"][0]["probation_pdu"] == "East"


# --- probation and MAPPA: the offender, and other people -------------------------------


def test_probation_names_the_victim_beside_the_offender_and_the_pdu_managing_him():
    sample = "probation/licence-conditions-victim-named-no-purpose.json"
    exchange = _one("probation", _sample(sample))
    assert [(s.ref, s.role) for s in exchange.subjects] == [("O1", "offender"), ("V1", "victim")]
    assert exchange.subjects[0].probation_pdu == "North"
    assert exchange.purposes == []
    native = _render("probation", exchange)
    assert native["persons"] == [
        {"ref": "V1", "role": "victim", "forename": "Sarah", "surname": "Keane"}
    ]
    assert _read_back("probation", exchange).subjects == exchange.subjects


def test_probation_refuses_the_offender_role_for_another_person_and_a_clashing_ref():
    record = _sample("probation/licence-compliance.json")
    bad_role = {**record, "persons": [{"ref": "V1", "role": "offender"}]}
    ((field, message),) = _refused("probation", bad_role)
    assert field == "persons[0].role" and "'victim'" in message
    clash = {**record, "persons": [{"ref": "O1", "role": "victim"}]}
    ((_, message),) = _refused("probation", clash)
    assert "other than the offender's O1" in message


def test_probation_carries_an_nfa_offender():
    record = _sample("probation/licence-compliance.json")
    record["offender"]["address"] = {"no_fixed_abode": True, "local_authority": "Warrington"}
    address = _one("probation", record).subjects[0].address
    assert address is not None and address.no_fixed_abode is True
    record["offender"]["address"]["postcode"] = "WA1 1AA"
    ((field, _),) = _refused("probation", record)
    assert field == "offender.address"


def test_mappa_names_a_child_beside_the_offender_and_renders_the_child_back():
    record = _sample("mappa/level-change.json")
    record["persons"] = [{"ref": "C1", "role": "child", "forename": "Ava", "dob": "2018-03-01"}]
    exchange = _one("mappa", record)
    assert [(s.ref, s.role) for s in exchange.subjects] == [("O1", "offender"), ("C1", "child")]
    assert _render("mappa", exchange)["persons"][0]["role"] == "child"
    assert _read_back("mappa", exchange).subjects == exchange.subjects


def test_mappa_refuses_a_person_with_the_offenders_ref_naming_the_field():
    record = {**_sample("mappa/level-change.json"), "persons": [{"ref": "O1", "role": "victim"}]}
    ((field, message),) = _refused("mappa", record)
    assert field == "persons[0].ref" and "is taken" in message


# --- MARAC: victim, perpetrator, children, and others ----------------------------------


def test_marac_others_are_witnesses_or_other_people_and_render_back():
    record = _sample("marac/referral-visible-high-risk.json")
    record["others"] = [
        {"ref": "W1", "role": "witness", "forename": "Tom", "surname": "Ellis"},
        {"ref": "X1", "role": "other", "surname": "Keane"},
    ]
    exchange = _one("marac", record)
    roles = {s.ref: s.role for s in exchange.subjects}
    assert (roles["W1"], roles["X1"]) == ("witness", "other")
    others = _render("marac", exchange)["others"]
    assert [(o["ref"], o["role"]) for o in others] == [("W1", "witness"), ("X1", "other")]
    assert {s.ref: s.role for s in _read_back("marac", exchange).subjects} == roles


def test_marac_refuses_a_nameless_other_person_and_a_reused_ref():
    record = _sample("marac/referral-visible-high-risk.json")
    victim_ref = record["victim"]["ref"]
    record["others"] = [{"ref": "W1", "role": "witness"}, {"ref": victim_ref, "role": "other"}]
    record["others"][1]["surname"] = "Ellis"
    problems = _refused("marac", record)
    assert ("others[0]", "needs a name or an identifier") in problems
    assert ("others[1].ref", f"ref {victim_ref!r} is used twice") in problems


def test_marac_refuses_a_role_other_than_witness_or_other_in_others():
    record = _sample("marac/referral-visible-high-risk.json")
    record["others"] = [{"ref": "W1", "role": "victim", "surname": "Ellis"}]
    ((field, message),) = _refused("marac", record)
    assert field == "others[0].role" and "'witness'" in message


# --- FHIR: the subject-role extension and purpose tags ---------------------------------


def _role_extension(code: str) -> dict[str, str]:
    return {"url": SUBJECT_ROLE_EXTENSION, "valueCode": code}


def _patient(*extensions: dict[str, Any]) -> dict[str, Any]:
    patient = _sample("fhir/patient-uk-core.json")
    patient["extension"] = list(extensions)
    return patient


def test_a_patient_without_the_extension_stays_a_patient_for_the_registration():
    patient = _sample("fhir/patient-uk-core.json")
    assert "extension" not in patient
    assert _one("fhir", patient).subjects[0].role == "patient"


@pytest.mark.parametrize("role", [r.value for r in SubjectRole])
def test_the_patient_extension_gives_the_role_and_renders_it_back(role):
    exchange = _one("fhir", _patient(_role_extension(role)))
    assert exchange.subjects[0].role == role
    bundle = _render("fhir", exchange)
    resources = [e["resource"] for e in bundle["entry"]]
    (patient,) = [r for r in resources if r["resourceType"] == "Patient"]
    assert _role_extension(role) in patient["extension"]
    assert _read_back("fhir", exchange).subjects[0].role == role


def test_the_victim_sample_is_about_a_victim_with_her_consent_and_two_purposes():
    exchange = _one("fhir", _sample("fhir/victim-support-with-consent.json"))
    assert exchange.subjects[0].role == "victim"
    assert exchange.purposes == ["victim-safeguarding", "stalking-risk-management"]
    assert exchange.payload.health is not None
    assert exchange.payload.health.consent is not None
    assert exchange.payload.health.consent.status == "given"


def test_the_role_may_stand_on_the_reference_of_a_resource_about_the_person():
    exchange = _one("fhir", _sample("fhir/perpetrator-disengaged-role-on-reference.json"))
    (subject,) = exchange.subjects
    assert subject.role == "perpetrator"
    assert [i.value for i in subject.identifiers] == ["9990001057"]


def test_the_patient_and_a_reference_must_agree_on_the_role():
    bundle = _sample("fhir/fact-engagement-collection.json")
    observation = bundle["entry"][1]["resource"]
    observation["subject"]["extension"] = [_role_extension("victim")]
    ((field, message),) = _refused("fhir", bundle)
    assert field == "entry[1].resource.subject.extension"
    assert "says the person is victim" in message
    assert "entry[0].resource.extension says perpetrator" in message
    observation["subject"]["extension"] = [_role_extension("perpetrator")]
    assert _one("fhir", bundle).subjects[0].role == "perpetrator"


def test_an_unknown_role_code_is_refused_naming_the_codes():
    ((field, message),) = _refused("fhir", _patient(_role_extension("stalker")))
    assert field == "extension[0].valueCode"
    assert "unknown subject role 'stalker'" in message and "perpetrator" in message


def test_the_role_extension_must_carry_a_code():
    wrong = {"url": SUBJECT_ROLE_EXTENSION, "valueString": "victim"}
    ((field, message),) = _refused("fhir", _patient(wrong))
    assert field == "extension[0]" and "valueCode" in message


def test_two_role_extensions_on_one_patient_must_not_disagree():
    ((field, message),) = _refused(
        "fhir", _patient(_role_extension("victim"), _role_extension("witness"))
    )
    assert field == "extension[1]" and "different roles" in message


def test_a_role_extension_in_fhir_xml_is_read_too():
    xml = f"""<Patient xmlns="http://hl7.org/fhir">
  <extension url="{SUBJECT_ROLE_EXTENSION}"><valueCode value="victim"/></extension>
  <identifier>
    <system value="https://fhir.nhs.uk/Id/nhs-number"/><value value="9990001049"/>
  </identifier>
</Patient>"""
    assert _one("fhir", xml, "application/fhir+xml").subjects[0].role == "victim"


def _tagged(*codes: str) -> dict[str, Any]:
    patient = _sample("fhir/patient-uk-core.json")
    other = {"system": "http://example.org/other-tags", "code": "ignored"}
    tags = [{"system": PURPOSE_SYSTEM, "code": c} for c in codes]
    patient["meta"]["tag"] = [other, *tags]
    return patient


def test_fhir_reads_every_purpose_tag_in_order_and_ignores_other_tags():
    assert _one("fhir", _tagged(*TWO[::-1])).purposes == TWO[::-1]
    assert _one("fhir", _tagged()).purposes == []


def test_fhir_renders_a_tag_per_purpose_and_reads_them_back():
    exchange = _one("fhir", _tagged(*TWO))
    tags = _render("fhir", exchange)["meta"]["tag"]
    assert tags == [{"system": PURPOSE_SYSTEM, "code": c} for c in TWO]
    assert _read_back("fhir", exchange).purposes == TWO


def test_fhir_refuses_a_bad_or_repeated_purpose_tag_naming_it():
    ((field, message),) = _refused("fhir", _tagged("stalking-risk-management", "Victims"))
    assert (field, "'Victims' is not a purpose id" in message) == ("meta.tag[2].code", True)
    ((field, message),) = _refused("fhir", _tagged(TWO[0], TWO[0]))
    assert field == "meta.tag[2].code" and "tagged twice" in message


# --- FHIR: a further person as a RelatedPerson ----------------------------------------


def _with_related_person(**person: Any) -> dict[str, Any]:
    bundle = _sample("fhir/fact-engagement-collection.json")
    related = {
        "resourceType": "RelatedPerson",
        "patient": {"reference": "Patient/mc-77120"},
        "name": [{"use": "official", "family": "Okafor", "given": ["Grace"]}],
        **person,
    }
    bundle["entry"].append({"resource": related})
    return bundle


def test_a_related_person_is_a_further_subject_with_the_role_its_extension_gives():
    exchange = _one(
        "fhir", _with_related_person(extension=[_role_extension("victim")], gender="female")
    )
    patient, victim = exchange.subjects
    assert (patient.ref, patient.role) == ("P1", "perpetrator")
    assert (victim.ref, victim.role, victim.gender) == ("R1", "victim", "female")
    assert victim.name is not None and victim.name.family == "Okafor"


def test_a_related_person_without_the_extension_is_other_and_needs_no_nhs_number():
    exchange = _one("fhir", _with_related_person())
    assert [s.role for s in exchange.subjects] == ["perpetrator", "other"]


def test_a_related_persons_nhs_number_is_checked_and_its_role_code_too():
    bad_number = {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990001007"}
    ((field, _),) = _refused("fhir", _with_related_person(identifier=[bad_number]))
    assert field == "entry[9].resource.identifier[0].value"
    ((field, _),) = _refused("fhir", _with_related_person(extension=[_role_extension("ex")]))
    assert field == "entry[9].resource.extension[0].valueCode"


def test_subjects_beyond_the_patient_render_as_related_people_and_read_back():
    exchange = _one("fhir", _with_related_person(extension=[_role_extension("victim")]))
    resources = [e["resource"] for e in _render("fhir", exchange)["entry"]]
    (related,) = [r for r in resources if r["resourceType"] == "RelatedPerson"]
    assert related["extension"] == [_role_extension("victim")]
    assert related["patient"]["identifier"]["value"] == "9990001014"
    assert len([r for r in resources if r["resourceType"] == "Patient"]) == 1
    again = _read_back("fhir", exchange)
    assert [(s.role, s.name) for s in again.subjects] == [
        (s.role, s.name) for s in exchange.subjects
    ]


def test_a_police_record_renders_for_an_nhs_recipient_as_one_patient_and_related_people():
    exchange = _one("police", _sample("police/stalking-crime-two-purposes.json"))
    bundle = _render("fhir", exchange)
    people = [
        (r["resourceType"], r["extension"][0]["valueCode"])
        for r in (e["resource"] for e in bundle["entry"])
        if r["resourceType"] in ("Patient", "RelatedPerson")
    ]
    assert people == [
        ("Patient", "suspect"),
        ("RelatedPerson", "victim"),
        ("RelatedPerson", "child"),
    ]
    assert [t["code"] for t in bundle["meta"]["tag"]] == TWO
