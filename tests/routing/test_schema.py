"""The routes schemas: regenerated from the models, and they check the sample files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft7Validator

from gateway.routing import schema
from tests.routing.conftest import ROOT

ROUTE_FILES = sorted(ROOT.glob("policies/*/routes/*.yaml"))
TEST_FILES = sorted(ROOT.glob("policies/*/routes/tests/*.yaml"))


def as_json(path: Path) -> object:
    """What an editor sees: YAML dates and times are plain strings to a JSON Schema."""
    return json.loads(json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")), default=str))


@pytest.mark.parametrize("name", sorted(schema.SCHEMAS))
def test_published_schema_is_fresh(name):
    model, title = schema.SCHEMAS[name]
    published = (schema.SCHEMA_DIR / name).read_text(encoding="utf-8")
    assert published == schema.render(model, title), (
        f"policies/schema/{name} is stale: run .venv/bin/python -m gateway.routing.schema"
    )


def test_there_are_samples():
    assert len(ROUTE_FILES) == 2 and len(TEST_FILES) >= 3


@pytest.mark.parametrize(
    ("path", "name", "header"),
    [(p, "routes.schema.json", "../../schema/") for p in ROUTE_FILES]
    + [(p, "routes-test.schema.json", "../../../schema/") for p in TEST_FILES],
    ids=lambda v: v.name if isinstance(v, Path) else str(v),
)
def test_samples_validate_and_name_their_schema(path, name, header):
    assert path.read_text().startswith(f"# yaml-language-server: $schema={header}{name}")
    published = json.loads((schema.SCHEMA_DIR / name).read_text(encoding="utf-8"))
    Draft7Validator.check_schema(published)
    errors = [e.message for e in Draft7Validator(published).iter_errors(as_json(path))]
    assert errors == []


def test_the_schema_catches_a_typo():
    published = json.loads((schema.SCHEMA_DIR / "routes.schema.json").read_text())
    bad = {"desks": [{"id": "d", "party": "p", "name": "D", "alwys_open": True}]}
    assert list(Draft7Validator(published).iter_errors(bad))
    bad_hours = {"calendars": [{"id": "c", "hours": {"monday": "8-4"}}]}
    assert list(Draft7Validator(published).iter_errors(bad_hours))
