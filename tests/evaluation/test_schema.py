"""The cohorts schema: regenerated from the models, and it checks the sample files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft7Validator

from gateway.evaluation import schema
from gateway.evaluation.cohorts import CohortsDocument
from gateway.policy.tools.schema import render

ROOT = Path(__file__).resolve().parents[2]
COHORT_FILES = sorted(ROOT.glob("policies/*/evaluation/cohorts.yaml"))


def published() -> dict[str, object]:
    loaded: dict[str, object] = json.loads((schema.SCHEMA_DIR / schema.NAME).read_text())
    return loaded


def test_published_schema_is_fresh():
    text = (schema.SCHEMA_DIR / schema.NAME).read_text(encoding="utf-8")
    assert text == render(CohortsDocument, schema.TITLE), (
        "policies/schema/cohorts.schema.json is stale: "
        "run .venv/bin/python -m gateway.evaluation.schema"
    )


@pytest.mark.parametrize("path", COHORT_FILES, ids=lambda p: p.parent.parent.name)
def test_samples_validate_and_name_their_schema(path: Path):
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=../../schema/cohorts.schema.json")
    data = json.loads(json.dumps(yaml.safe_load(text), default=str))
    Draft7Validator.check_schema(published())
    assert [e.message for e in Draft7Validator(published()).iter_errors(data)] == []


def test_the_schema_catches_a_typo():
    bad = {
        "cohorts": [
            {
                "id": "x",
                "description": "d",
                "recipient": "r",
                "purpose": "p",
                "entry": {
                    "referred_to": ["hru"],
                    "from": "2024-01-01",
                    "until": "2024-12-31",
                    "rolez": ["victim"],
                },
            }
        ]
    }
    assert list(Draft7Validator(published()).iter_errors(bad))
    assert len(COHORT_FILES) == 2
