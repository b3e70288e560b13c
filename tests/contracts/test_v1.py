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
