"""The published draft-07 schemas: valid, current, and they check the sample files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft7Validator

from gateway.policy.tools import schema
from tests.policy.conftest import ROOT

POLICY_FILES = sorted(ROOT.glob("policies/*/*.yaml"))
TEST_FILES = sorted(ROOT.glob("policies/*/tests/*.yaml"))


def as_json(path: Path) -> object:
    """What an editor sees: YAML dates are plain strings to a JSON Schema."""
    return json.loads(json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")), default=str))


def validator(name: str) -> Draft7Validator:
    published = json.loads((schema.SCHEMA_DIR / name).read_text(encoding="utf-8"))
    Draft7Validator.check_schema(published)
    assert published["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert "$defs" not in json.dumps(published)
    return Draft7Validator(published)


@pytest.mark.parametrize("name", sorted(schema.SCHEMAS))
def test_published_schema_is_regenerated_from_the_models(name):
    model, title = schema.SCHEMAS[name]
    published = (schema.SCHEMA_DIR / name).read_text(encoding="utf-8")
    assert published == schema.render(model, title), (
        f"policies/schema/{name} is stale: run .venv/bin/python -m gateway.policy.tools.schema"
    )


def test_there_are_sample_files_to_check():
    assert len(POLICY_FILES) >= 8 and len(TEST_FILES) >= 7


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_sample_policy_files_validate_and_name_their_schema(path):
    assert path.read_text().startswith(
        "# yaml-language-server: $schema=../schema/policy.schema.json"
    )
    errors = [e.message for e in validator("policy.schema.json").iter_errors(as_json(path))]
    assert errors == []


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: f"{p.parents[1].name}/{p.name}")
def test_sample_test_files_validate_and_name_their_schema(path):
    header = "# yaml-language-server: $schema=../../schema/policy-test.schema.json"
    assert path.read_text().startswith(header)
    errors = [e.message for e in validator("policy-test.schema.json").iter_errors(as_json(path))]
    assert errors == []


def test_schema_catches_a_misspelt_field_path_and_an_unknown_key():
    check = validator("policy.schema.json")
    flow = {
        "id": "f",
        "from": "a",
        "to": ["b"],
        "categories": ["crime_record"],
        "purposes": ["p"],
        "lawful_basis": "l",
        "fields": ["payload.crime.ofence"],
    }
    assert list(check.iter_errors({"flows": [flow]}))
    flow["fields"] = ["payload.crime.offence", "subjects[].identifiers"]
    assert not list(check.iter_errors({"flows": [flow]}))
    assert list(check.iter_errors({"flows": [{**flow, "colour": "red"}]}))


def test_regenerate_script_writes_both_files(tmp_path):
    written = schema.write(tmp_path)
    assert sorted(p.name for p in written) == sorted(schema.SCHEMAS)
    for path in written:
        Draft7Validator.check_schema(json.loads(path.read_text()))
