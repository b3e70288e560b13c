"""Rules the canonical contract enforces itself, whatever adapter fed it."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from contracts import (
    MARKS_KEY,
    ConsentRecord,
    DashChecklist,
    Exchange,
    MappaSection,
    Mark,
    field_paths,
    marked_paths,
)
from contracts.export import SCHEMA_DIR


def test_dash_ticks_must_match_yes_answers():
    answers = ["yes"] * 14 + ["no"] * 10
    assert DashChecklist(answers=answers, ticks=14).ticks == 14
    with pytest.raises(ValidationError, match="ticks is 13 but 14"):
        DashChecklist(answers=answers, ticks=13)
    with pytest.raises(ValidationError):
        DashChecklist(answers=answers[:23], ticks=13)


def test_sharing_without_consent_needs_a_justification():
    assert ConsentRecord(status="given").justification is None
    with pytest.raises(ValidationError, match="justification"):
        ConsentRecord(status="refused")
    ConsentRecord(status="refused", justification="Risk to life; Crime and Disorder Act s115")


def test_mappa_category_and_level_bounds():
    MappaSection(category=4, level=3)
    with pytest.raises(ValidationError):
        MappaSection(category=5, level=1)
    with pytest.raises(ValidationError):
        MappaSection(category=1, level=0)


def test_marks_name_declared_paths():
    paths = field_paths(Exchange)
    assert marked_paths(Exchange, Mark.SPECIAL_CATEGORY) == {"payload.health"}
    assert marked_paths(Exchange, Mark.VICTIM_LOCATION) == {
        "subjects[].address",
        "subjects[].safe_contact",
    }
    assert marked_paths(Exchange, Mark.RESTRICTED_ACCESS) == {"subjects[].access"}
    for wanted in Mark:
        assert marked_paths(Exchange, wanted) <= paths


def test_marks_are_visible_in_the_exported_schema():
    schema = json.loads((SCHEMA_DIR / "v1" / "exchange.schema.json").read_text())
    subject = schema["$defs"]["Subject"]["properties"]
    assert subject["safe_contact"][MARKS_KEY] == ["victim_location"]
    assert schema["$defs"]["Payload"]["properties"]["health"][MARKS_KEY] == ["special_category"]


def test_new_sections_have_policy_paths():
    paths = field_paths(Exchange)
    for path in (
        "case_reference",
        "payload.crime.offence.offence_class",
        "payload.health.engagement",
        "payload.alert.kind",
        "payload.probation.licence_conditions[].compliance",
        "payload.mappa.level",
        "payload.referral.dash.ticks",
        "payload.referral.consent.justification",
        "payload.meeting.actions[].owner",
        "payload.arrests[].custody_number",
        "payload.disposals[].kind",
        "payload.orders[].prohibitions[].text",
        "subjects[].access.level",
    ):
        assert path in paths, path


def test_every_public_name_of_v1_is_exported():
    import inspect

    import contracts
    from contracts import v1

    public = {
        name
        for name, value in vars(v1).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "contracts.v1") == "contracts.v1"
        and (inspect.isclass(value) or inspect.isfunction(value) or name.isupper())
    }
    assert public <= set(contracts.__all__)


# --- what cannot be true is refused, whatever the format --------------------------


def _record(payload: dict) -> dict:
    return {
        "exchange_id": "0b7e2c1a-3f4d-4e5f-8a9b-1c2d3e4f5a70",
        "source_partner": "cheshire-police",
        "submitted_at": "2026-11-25T10:00:00Z",
        "category": "civil_order",
        "purposes": ["stalking-risk-management"],
        "subjects": [{"ref": "P1", "role": "suspect"}],
        "payload": payload,
    }


def _order(**changes: object) -> dict:
    order = {
        "subject_ref": "P1",
        "kind": "stalking_protection_order",
        "stage": "granted",
        "decided_on": "2026-11-25",
        "expires_on": "2028-11-24",
    }
    return order | changes


def test_a_full_spo_runs_for_at_least_two_years():
    Exchange.model_validate(_record({"orders": [_order()]}))  # the sample's two years
    with pytest.raises(ValidationError, match="at least 2 years"):
        Exchange.model_validate(_record({"orders": [_order(expires_on="2027-11-25")]}))
    # an interim order may be short
    interim = _order(kind="interim_stalking_protection_order", expires_on="2027-01-25")
    Exchange.model_validate(_record({"orders": [interim]}))


def test_an_order_cannot_expire_before_it_is_made():
    late = _order(kind="non_molestation_order", expires_on="2026-11-01")
    with pytest.raises(ValidationError, match="expires_on is before decided_on"):
        Exchange.model_validate(_record({"orders": [late]}))


def test_a_release_cannot_come_before_the_arrest():
    arrest = {
        "subject_ref": "P1",
        "arrested_at": "2026-11-24T10:00:00Z",
        "released_at": "2026-11-24T09:00:00Z",
    }
    with pytest.raises(ValidationError, match="released_at is before arrested_at"):
        Exchange.model_validate(_record({"arrests": [arrest]}))


def test_an_event_must_be_about_a_subject_of_the_record():
    with pytest.raises(ValidationError, match=r"payload.orders\[0\].subject_ref 'P9'"):
        Exchange.model_validate(_record({"orders": [_order(subject_ref="P9")]}))


def test_an_offence_period_and_a_licence_run_forward():
    crime = {
        "occurrence_number": "CC-1",
        "offence": {"code": "8Q"},
        "occurred_from": "2026-11-01T00:00:00Z",
        "occurred_to": "2026-10-01T00:00:00Z",
    }
    with pytest.raises(ValidationError, match="occurred_to is before occurred_from"):
        Exchange.model_validate(_record({"crime": crime}))
    probation = {
        "event": "licence_conditions",
        "licence_start": "2026-05-01",
        "licence_end": "2026-01-01",
    }
    with pytest.raises(ValidationError, match="licence_end is before licence_start"):
        Exchange.model_validate(_record({"probation": probation}))
