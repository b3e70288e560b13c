"""Probation SPOC adapter: identifiers, restricted cases, RoSH and bad input."""

from __future__ import annotations

import json

import pytest

from contracts import Category, IdentifierSystem, RiskTool
from gateway.errors import InvalidRecord, MalformedBody
from tests.adapters.helpers import EXAMPLES, REGISTRY, canonical, parse

COMPLIANCE = json.loads((EXAMPLES / "probation" / "licence-compliance.json").read_text())
RESTRICTED = json.loads((EXAMPLES / "probation" / "change-of-address-restricted.json").read_text())


def _fields(body) -> list[tuple]:
    with pytest.raises(InvalidRecord) as caught:
        parse("probation", body)
    return [(p.record, p.field) for p in caught.value.problems]


def _with_offender(**changes) -> dict:
    note = json.loads(json.dumps(COMPLIANCE))
    note["offender"].update(changes)
    return note


def test_malformed_json_is_refused():
    with pytest.raises(MalformedBody):
        parse("probation", b"[not json")


def test_identifiers_and_rosh_are_carried():
    (exchange,) = parse("probation", COMPLIANCE).items
    systems = {i.system: i.value for i in exchange.subjects[0].identifiers}
    assert systems == {
        IdentifierSystem.CRN: "X123456",
        IdentifierSystem.NOMS_NUMBER: "A1234BC",
        IdentifierSystem.PNC_ID: "12/345678A",
    }
    assert exchange.category == Category.COMPLIANCE
    assert (exchange.payload.risk.tool, exchange.payload.risk.level) == (RiskTool.ROSH, "high")
    breached = [
        c for c in exchange.payload.probation.licence_conditions if c.compliance == "breached"
    ]
    assert [c.kind for c in breached] == ["NCV"]


def test_a_restricted_case_carries_its_mark_end_to_end():
    (exchange,) = parse("probation", RESTRICTED).items
    access = exchange.subjects[0].access
    assert access.level == "restricted"
    assert access.named_staff == ["Tom Adeyemi", "Helen Moreau"]
    assert access.set_by == "test-partner"
    rendered = json.loads(REGISTRY.get("probation").render(canonical(exchange)).body)
    assert rendered["offender"]["restriction"]["type"] == "restricted"


def test_missing_crn_is_refused():
    note = json.loads(json.dumps(COMPLIANCE))
    del note["offender"]["crn"]
    assert _fields(note) == [(None, "offender.crn")]


@pytest.mark.parametrize(
    ("field", "value"), [("crn", "123456X"), ("crn", "X12345"), ("noms_number", "A12BC")]
)
def test_malformed_identifiers_are_refused(field, value):
    assert _fields(_with_offender(**{field: value})) == [(None, f"offender.{field}")]


def test_unknown_fields_are_refused_not_dropped():
    note = json.loads(json.dumps(COMPLIANCE))
    note["tier"] = "A3"
    with pytest.raises(InvalidRecord) as caught:
        parse("probation", note)
    assert caught.value.problems[0].message == "unknown field"


def test_mappa_level_out_of_range():
    note = json.loads(json.dumps(COMPLIANCE))
    note["mappa"] = {"category": 2, "level": 4}
    assert _fields(note) == [(None, "mappa.level")]
