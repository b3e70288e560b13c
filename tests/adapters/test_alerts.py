"""Urgent alerts from every partner format (issue 17): the shape each sends, who an
alert may name, ``immediate`` unless the sender says otherwise, and the 422s a
partner gets for an alert naming nobody, an unknown indicator or a time in the future."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from contracts import AlertKind, Category, IdentifierSystem, Urgency
from gateway.errors import InvalidRecord
from tests.adapters.helpers import EXAMPLES, REGISTRY, canonical, normalise, parse

ALERT_SAMPLES = EXAMPLES / "alert"
SAMPLES = {
    "police": "police/threat-to-kill-alert.json",
    "probation": "probation/recall-alert.json",
    "marac": "marac/imminent-contact-alert.json",
    "mappa": "mappa/weapons-alert.json",
    "fhir": "fhir/threat-to-kill-communication-no-nhs-number.json",
}
FPC_FLAG = "fhir/suicidal-ideation-flag-name-and-dob.json"
#: (kind, further indicators, the identifier systems the alert's person is named by)
EXPECTED = {
    "police": ("threat_to_kill", ["weapons_access"], {"pnc_id"}),
    "probation": ("recall", [], {"crn"}),
    "marac": ("imminent_contact", [], {"pnc_id"}),
    "mappa": ("weapons_access", ["threat_to_kill"], {"crn", "pnc_id"}),
    "fhir": ("threat_to_kill", ["imminent_contact"], {"pnc_id"}),
}


def _load(path: str | Path) -> dict[str, Any]:
    full = path if isinstance(path, Path) else EXAMPLES / path
    return json.loads(full.read_text(encoding="utf-8"))


def _problems(adapter: str, body: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(InvalidRecord) as caught:
        parse(adapter, body)
    return [(p.field, p.message) for p in caught.value.problems]


def _fields(adapter: str, body: dict[str, Any]) -> list[str]:
    return [field for field, _ in _problems(adapter, body)]


@pytest.mark.parametrize("adapter", sorted(SAMPLES))
def test_each_format_raises_an_immediate_alert_with_its_indicators(adapter):
    (exchange,) = parse(adapter, _load(SAMPLES[adapter])).items
    kind, indicators, systems = EXPECTED[adapter]
    assert exchange.category == Category.URGENT_ALERT
    assert exchange.urgency == Urgency.IMMEDIATE
    assert exchange.payload.alert.kind == kind
    assert exchange.payload.alert.indicators == indicators
    named = {i.system.value for s in exchange.subjects for i in s.identifiers}
    assert systems <= named
    assert IdentifierSystem.NHS_NUMBER.value not in named


@pytest.mark.parametrize("adapter", sorted(SAMPLES))
def test_each_format_renders_an_alert_that_reads_back_the_same(adapter):
    (exchange,) = parse(adapter, _load(SAMPLES[adapter])).items
    record = canonical(exchange)
    assert REGISTRY.get(adapter).can_render(record)
    (again,) = parse(adapter, REGISTRY.get(adapter).to_native(record)).items
    assert normalise(canonical(again)) == normalise(record)


@pytest.mark.parametrize("adapter", ["police", "probation", "marac", "mappa", "alert"])
def test_the_sender_may_say_an_alert_is_only_urgent(adapter):
    body = _load(SAMPLES[adapter]) if adapter != "alert" else _alert_record()
    body["urgency"] = "urgent"
    (exchange,) = parse(adapter, body).items
    assert exchange.urgency == Urgency.URGENT


@pytest.mark.parametrize("adapter", ["police", "probation", "marac", "mappa", "alert"])
def test_an_unknown_indicator_is_refused_naming_it(adapter):
    body = _load(SAMPLES[adapter]) if adapter != "alert" else _alert_record()
    body["alert"]["indicators"] = ["threat_to_kill", "stalking"]
    problems = _problems(adapter, body)
    assert [f for f, _ in problems] == ["alert.indicators"]
    assert "unknown alert indicator 'stalking'" in problems[0][1]
    assert "suicidal_ideation" in problems[0][1]  # the known ones are listed


@pytest.mark.parametrize("adapter", ["police", "probation", "marac", "mappa", "alert"])
def test_an_alert_raised_in_the_future_is_refused(adapter):
    body = _load(SAMPLES[adapter]) if adapter != "alert" else _alert_record()
    body["alert"]["raised_at"] = "2026-11-26T10:30:00Z"  # an hour after it arrived
    problems = _problems(adapter, body)
    assert [f for f, _ in problems] == ["alert.raised_at"]
    assert "clock" in problems[0][1]


def test_a_partner_clock_a_little_ahead_is_tolerated():
    body = _load(SAMPLES["police"])
    body["alert"]["raised_at"] = "2026-11-26T09:33:00Z"  # three minutes ahead
    (exchange,) = parse("police", body).items
    assert exchange.payload.alert.raised_at.minute == 33


def test_valid_until_before_raised_at_is_refused():
    body = _load(SAMPLES["mappa"])
    body["alert"]["valid_until"] = "2026-11-26T09:00:00Z"
    assert _fields("mappa", body) == ["alert"]


# -- police -----------------------------------------------------------------------------


def test_a_police_alert_needs_no_occurrence_but_may_carry_one():
    body = _load(SAMPLES["police"])
    assert "occurrence" not in body
    with_occurrence = {**body, "occurrence": _load("police/breach-spo-urgent.json")["occurrence"]}
    (exchange,) = parse("police", with_occurrence).items
    assert exchange.category == Category.URGENT_ALERT
    assert exchange.payload.crime.offence.offence_class == "breach_spo"


def test_a_police_alert_block_makes_the_record_an_alert_unless_it_says_another_type():
    body = _load(SAMPLES["police"])
    del body["record_type"]
    (exchange,) = parse("police", body).items
    assert exchange.category == Category.URGENT_ALERT
    body["record_type"] = "crime"
    assert _fields("police", body) == ["record_type", "occurrence"]


def test_a_police_record_of_type_alert_needs_its_alert():
    body = _load(SAMPLES["police"])
    del body["alert"]
    assert _fields("police", body) == ["alert"]


def test_a_police_alert_naming_nobody_is_refused():
    body = _load(SAMPLES["police"])
    body["persons"] = [{"ref": "P1", "role": "suspect", "forename": "Daniel"}]
    problems = _problems("police", body)
    assert [f for f, _ in problems] == ["persons"]
    assert "name and date of birth" in problems[0][1]


def test_a_police_crime_record_stays_routine_without_an_alert():
    (exchange,) = parse("police", _load("police/stalking-crime.json")).items
    assert (exchange.category, exchange.urgency) == (Category.CRIME_RECORD, Urgency.ROUTINE)


# -- probation, MARAC, MAPPA ---------------------------------------------------------------


def test_a_probation_alert_keeps_the_event_and_the_recall():
    (exchange,) = parse("probation", _load(SAMPLES["probation"])).items
    assert exchange.payload.probation.event == "recall"
    assert exchange.payload.probation.recall.recall_type == "standard"


def test_a_probation_notification_without_an_alert_is_unchanged():
    (exchange,) = parse("probation", _load("probation/recall.json")).items
    assert exchange.category == Category.OFFENDER_MANAGEMENT
    assert exchange.urgency == Urgency.URGENT
    assert exchange.payload.alert is None


def test_a_marac_alert_at_a_meeting_carries_the_meeting():
    body = _load(SAMPLES["marac"])
    body["meeting"] = {"id": "MARAC-HAL-2026-11-26", "date": "2026-11-26", "area": "Halton"}
    (exchange,) = parse("marac", body).items
    assert exchange.payload.meeting.meeting_id == "MARAC-HAL-2026-11-26"
    record = canonical(exchange)
    (again,) = parse("marac", REGISTRY.get("marac").to_native(record)).items
    assert normalise(canonical(again)) == normalise(record)


def test_a_marac_alert_names_the_victim_or_the_perpetrator():
    body = _load(SAMPLES["marac"])
    del body["victim"], body["perpetrator"]
    assert _fields("marac", body) == ["victim"]


def test_a_marac_alert_about_a_perpetrator_named_by_forename_only_is_refused():
    body = _load(SAMPLES["marac"])
    del body["victim"]
    body["perpetrator"] = {"ref": "P1", "forename": "Daniel"}
    assert _fields("marac", body) == ["perpetrator"]


def test_a_mappa_alert_and_its_kind_go_together():
    body = _load(SAMPLES["mappa"])
    body["kind"] = "level_change"
    assert _fields("mappa", body) == ["kind"]
    del body["alert"]
    body["kind"] = "alert"
    assert _fields("mappa", body) == ["alert"]


# -- FHIR -------------------------------------------------------------------------------


def _fpc_flag() -> dict[str, Any]:
    return _load(FPC_FLAG)


def test_fhir_flag_alert_names_the_patient_by_name_and_birth_date_only():
    (exchange,) = parse("fhir", _fpc_flag()).items
    assert exchange.category == Category.URGENT_ALERT
    assert exchange.urgency == Urgency.IMMEDIATE
    assert exchange.payload.alert.kind == AlertKind.SUICIDAL_IDEATION
    (person,) = exchange.subjects
    assert person.identifiers == []
    assert (person.name.family, str(person.date_of_birth)) == ("Pike", "1990-01-17")


def test_fhir_patient_still_needs_an_nhs_number_when_there_is_no_alert():
    body = _fpc_flag()
    body["entry"][1]["resource"]["status"] = "inactive"
    problems = _problems("fhir", body)
    assert [f for f, _ in problems] == ["entry[0].resource.identifier"]
    assert "NHS number" in problems[0][1]


def test_fhir_alert_patient_with_a_name_but_no_birth_date_is_refused():
    body = _fpc_flag()
    del body["entry"][0]["resource"]["birthDate"]
    problems = _problems("fhir", body)
    assert [f for f, _ in problems] == ["entry[0].resource.identifier"]
    assert "names nobody" in problems[0][1]


def test_fhir_unknown_alert_kind_code_is_refused_not_ignored():
    body = _fpc_flag()
    body["entry"][1]["resource"]["code"]["coding"][1]["code"] = "self_harm"
    problems = _problems("fhir", body)
    assert [f for f, _ in problems] == ["entry[1].resource.code[0].coding[1].code"]
    assert "unknown alert indicator 'self_harm'" in problems[0][1]


def test_fhir_flag_alert_raised_in_the_future_is_refused():
    body = _fpc_flag()
    body["entry"][1]["resource"]["period"]["start"] = "2026-11-26T11:00:00Z"
    assert _fields("fhir", body) == ["entry[1].resource.period.start"]


def test_fhir_communication_asap_is_an_urgent_alert_and_stat_an_immediate_one():
    body = _load(SAMPLES["fhir"])
    body["entry"][1]["resource"]["priority"] = "asap"
    (exchange,) = parse("fhir", body).items
    assert (exchange.category, exchange.urgency) == (Category.URGENT_ALERT, Urgency.URGENT)
    assert exchange.payload.alert.raised_by == "Crisis Resolution and Home Treatment Team, CWP"
    assert "kill her" in exchange.payload.alert.detail
    assert exchange.payload.health is None  # the words are the alert's, not clinical content


def test_fhir_routine_communication_with_an_indicator_is_no_alert():
    body = _load(SAMPLES["fhir"])
    body["entry"][1]["resource"]["priority"] = "routine"
    # Not an alert, so the Patient needs its NHS number again.
    assert _fields("fhir", body) == ["entry[0].resource.identifier"]


def test_fhir_communication_sent_in_the_future_is_refused():
    body = _load(SAMPLES["fhir"])
    body["entry"][1]["resource"]["sent"] = "2026-11-26T12:00:00+00:00"
    assert _fields("fhir", body) == ["entry[1].resource.sent"]


def test_fhir_communication_alert_may_refer_to_its_patient_by_pnc_id():
    body = _load(SAMPLES["fhir"])
    body["entry"][1]["resource"]["subject"] = {
        "identifier": {
            "system": "https://isg-gateway.example/fhir/Id/pnc-id",
            "value": "12/345678A",
        }
    }
    (exchange,) = parse("fhir", body).items
    assert len(exchange.subjects) == 1
    assert exchange.subjects[0].name.family == "Marsh"


# -- alert/1, the generic format ------------------------------------------------------------


def _alert_record() -> dict[str, Any]:
    return _load(ALERT_SAMPLES / "suicidal-ideation-name-and-dob.json")


def test_generic_alert_by_name_and_birth_date_is_immediate():
    (exchange,) = parse("alert", _alert_record()).items
    assert (exchange.category, exchange.urgency) == (Category.URGENT_ALERT, Urgency.IMMEDIATE)
    assert exchange.payload.alert.kind == AlertKind.SUICIDAL_IDEATION
    assert exchange.subjects[0].identifiers == []
    assert exchange.subjects[0].role == "perpetrator"


def test_generic_alert_reads_back_the_same():
    body = _alert_record()
    body["person"].update(nhs_number="9990001006", crn="X123456", local_id="FPC-0042")
    body["others"] = [{"ref": "V1", "role": "victim", "forename": "Jo", "surname": "Reid"}]
    (exchange,) = parse("alert", body).items
    assert {i.system.value for i in exchange.subjects[0].identifiers} == {
        "nhs_number",
        "crn",
        "local",
    }
    record = canonical(exchange)
    (again,) = parse("alert", REGISTRY.get("alert").to_native(record)).items
    assert normalise(canonical(again)) == normalise(record)


def test_generic_alert_naming_nobody_is_refused():
    body = _alert_record()
    del body["person"]["dob"]
    problems = _problems("alert", body)
    assert [f for f, _ in problems] == ["person"]
    assert "NHS number, PNC ID, CRN" in problems[0][1]


@pytest.mark.parametrize(
    ("field", "value"),
    [("nhs_number", "9990001007"), ("crn", "123456"), ("noms_number", "AB12")],
)
def test_generic_alert_checks_the_identifiers_it_is_given(field, value):
    body = _alert_record()
    body["person"][field] = value
    assert _fields("alert", body) == [f"person.{field}"]


def test_generic_alert_others_need_refs_of_their_own():
    body = _alert_record()
    body["others"] = [{"ref": "P1", "role": "victim", "forename": "Jo"}]
    assert _fields("alert", body) == ["(record)"]


def test_the_generic_alert_adapter_is_registered_and_renders_only_alerts():
    adapter = REGISTRY.get("alert")
    (exchange,) = parse("alert", _alert_record()).items
    assert adapter.can_render(canonical(exchange))
    assert not adapter.can_render({"category": "health_information"})


@pytest.mark.parametrize("adapter", ["police", "alert"])
def test_a_control_character_in_an_alert_is_refused_naming_the_field(adapter):
    body = _load(SAMPLES[adapter]) if adapter != "alert" else _alert_record()
    body["alert"]["detail"] = "he said\x00tonight"
    assert _fields(adapter, body) == ["alert.detail"]


def test_a_raised_at_without_a_zone_is_read_as_utc():
    body = _load(SAMPLES["probation"])
    body["alert"]["raised_at"] = "2026-11-26T10:00:00"  # half an hour after it arrived, in UTC
    assert _fields("probation", body) == ["alert.raised_at"]
    body["alert"]["raised_at"] = "2026-11-26T09:00:00"
    (exchange,) = parse("probation", body).items
    assert exchange.payload.alert.raised_at.hour == 9
