"""Hostile text: control characters refused naming the field, caps on text, names and
subjects, and no rendering a spreadsheet could run as a formula."""

from __future__ import annotations

import csv
import io
import itertools
import json

import pytest

from adapters import InvalidRecord
from contracts import MAX_NAME, MAX_SUBJECTS, MAX_TEXT, Exchange
from tests.adapters.helpers import ADAPTERS, EXAMPLES, REGISTRY, canonical, parse, samples

POLICE = json.loads((EXAMPLES / "police" / "stalking-crime.json").read_text())
FORMULAS = ['=HYPERLINK("http://x.example","y")', "+1+1", "-2+3", "@SUM(A1)", "\t=1+1"]
FORMULA_CYCLE = itertools.cycle(FORMULAS)


def _police(**changes) -> dict:
    record = json.loads(json.dumps(POLICE))
    for path, value in changes.items():
        target = record
        *parents, last = path.split(".")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value
    return record


def _problems(adapter: str, body, media_type: str | None = None) -> list[tuple]:
    with pytest.raises(InvalidRecord) as caught:
        parse(adapter, body, media_type)
    assert caught.value.status == 422
    return [(p.field, p.message) for p in caught.value.problems]


@pytest.mark.parametrize("character", ["\x00", "\x07", "\x1b", "\x7f", "\x85"])
def test_a_control_character_in_a_text_field_is_refused_naming_the_field(character):
    body = _police(**{"persons.0.surname": f"Smith{character}"})
    ((field, message),) = _problems("police", body)
    assert field == "persons[0].surname"
    assert f"U+{ord(character):04X}" in message


def test_tabs_and_line_breaks_are_allowed_in_free_text():
    summary = "First line.\r\nSecond\tline."
    (item,) = parse("police", _police(**{"occurrence.circumstances": summary})).items
    assert item.payload.crime.summary == summary


def test_a_name_is_one_line():
    ((field, message),) = _problems("police", _police(**{"persons.0.forename": "Jo\nhn"}))
    assert (field, message) == ("given", "Value error, a name is one line: no tab or line break")


def test_a_control_character_in_one_csv_row_refuses_that_row_alone():
    out = io.StringIO()
    writer = csv.DictWriter(out, ["occurrence_number", "ho_code", "suspect_pnc_id"])
    writer.writeheader()
    writer.writerow({"occurrence_number": "CC-1", "ho_code": "8/1", "suspect_pnc_id": "2019/1A"})
    writer.writerow(
        {"occurrence_number": "CC-2\x00", "ho_code": "8/1", "suspect_pnc_id": "2019/1A"}
    )
    good, bad = parse("police", out.getvalue(), "text/csv").items
    assert isinstance(good, Exchange)
    assert isinstance(bad, InvalidRecord)
    assert [(p.field, p.record) for p in bad.problems] == [("occurrence_number", 1)]


def test_a_control_character_in_a_fhir_bundle_entry_names_the_entry():
    bundle = json.loads((EXAMPLES / "fhir" / "suicidal-ideation-alert-message.json").read_text())
    patient = next(
        i for i, e in enumerate(bundle["entry"]) if e["resource"]["resourceType"] == "Patient"
    )
    bundle["entry"][patient]["resource"]["name"][0]["family"] = "Bad\x00"
    ((field, _),) = _problems("fhir", bundle)
    assert field == f"entry[{patient}].resource.name[0].family"


def test_text_over_the_cap_is_refused():
    ok = _police(**{"occurrence.circumstances": "x" * MAX_TEXT})
    assert parse("police", ok).items
    problems = _problems("police", _police(**{"occurrence.circumstances": "x" * (MAX_TEXT + 1)}))
    assert problems == [("summary", "String should have at most 10000 characters")]


def test_a_name_over_the_cap_is_refused():
    problems = _problems("police", _police(**{"persons.0.surname": "x" * (MAX_NAME + 1)}))
    assert [f for f, _ in problems] == ["family"]


def test_more_subjects_than_the_cap_are_refused():
    persons = [
        {**POLICE["persons"][0], "ref": f"P{i}", "role": "other"} for i in range(MAX_SUBJECTS + 1)
    ]
    problems = _problems("police", _police(persons=persons))
    assert [f for f, _ in problems] == ["subjects"]


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_no_adapter_renders_csv_so_a_formula_stays_text(adapter):
    """The gateway writes no CSV: every rendering for recipients is JSON. A CSV
    rendering would have to neutralise cells starting with = + - @, tab or CR (OWASP
    CSV injection); this pins that there is none to neutralise."""
    rendered_any = False
    for path in samples(adapter):
        for item in parse(adapter, path.read_bytes(), _media(adapter, path)).items:
            if isinstance(item, InvalidRecord):
                continue
            record = canonical(item)
            _plant_formulas(record)
            adapter_ = REGISTRY.get(adapter)
            if not adapter_.can_render(record):
                continue
            rendered = adapter_.render(record)
            assert "csv" not in rendered.media_type
            assert rendered.media_type.endswith("json")
            json.loads(rendered.body)  # a JSON document, where a formula is only a string
            rendered_any = True
    assert rendered_any


def _media(adapter: str, path) -> str:
    if path.suffix == ".csv":
        return "text/csv"
    return "application/fhir+json" if adapter == "fhir" else "application/json"


def _plant_formulas(value) -> None:
    """Replace free text in a canonical record with formulas, in place."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("summary", "detail", "rationale", "notes", "reason") and isinstance(
                item, str
            ):
                value[key] = next(FORMULA_CYCLE)
            else:
                _plant_formulas(item)
    elif isinstance(value, list):
        for item in value:
            _plant_formulas(item)
