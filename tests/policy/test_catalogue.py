"""The field catalogue page: every contract path in words, and never stale."""

from __future__ import annotations

import typing

from pydantic import BaseModel
from typer.testing import CliRunner

from contracts import Exchange, Mark, field_paths, marked_paths
from gateway.cli.policy import policy_app
from gateway.policy.tools.catalogue import GLOSSARY, entries, render
from tests.policy.conftest import ROOT

FIELDS_PAGE = ROOT / "docs" / "fields.md"


def test_committed_page_is_fresh():
    committed = FIELDS_PAGE.read_text(encoding="utf-8")
    assert committed == render(), (
        "docs/fields.md is stale: run `gateway policy catalogue --output docs/fields.md`"
    )


def test_every_field_path_is_listed_once_with_a_meaning_and_a_type():
    listed = [e.path for e in entries()]
    assert sorted(listed) == sorted(field_paths(Exchange))
    assert all(e.meaning and e.kind for e in entries())


def test_every_glossary_entry_names_a_contract_field():
    models = {}

    def collect(model):
        models[model.__name__] = model
        for info in model.model_fields.values():
            for arg in _types(info.annotation):
                if isinstance(arg, type) and issubclass(arg, BaseModel):
                    collect(arg)

    collect(Exchange)
    for key in GLOSSARY:
        owner, name = key.split(".")
        assert name in models[owner].model_fields, key


def _types(annotation):
    yield annotation
    for arg in typing.get_args(annotation):
        yield from _types(arg)


def test_special_category_covers_what_the_contract_marks_and_everything_under_it():
    special = {e.path for e in entries() if e.special_category}
    for path in marked_paths(Exchange, Mark.SPECIAL_CATEGORY):
        assert path in special
        assert {p for p in field_paths(Exchange) if p.startswith(path + ".")} <= special
    assert "payload.crime.summary" not in special


def test_free_text_is_prose_not_codes():
    by_path = {e.path: e for e in entries()}
    assert by_path["payload.crime.summary"].free_text
    assert by_path["payload.probation.notes"].free_text
    assert not by_path["payload.crime.occurrence_number"].free_text
    assert not by_path["subjects[].identifiers[].value"].free_text
    assert not by_path["payload.crime.offence.description"].free_text
    assert by_path["payload.meeting.actions[].description"].free_text


def test_page_groups_paths_by_section_with_marks():
    page = render()
    assert "## `payload.health`" in page and "## `subjects[]`" in page
    row = next(line for line in page.splitlines() if line.startswith("| `subjects[].address` |"))
    assert "victim_location" in row
    row = next(line for line in page.splitlines() if line.startswith("| `payload.health` |"))
    assert "| yes |" in row


def test_command_prints_the_page_or_writes_it(tmp_path):
    runner = CliRunner()
    printed = runner.invoke(policy_app, ["catalogue"])
    assert printed.exit_code == 0 and printed.stdout == render()
    target = tmp_path / "fields.md"
    written = runner.invoke(policy_app, ["catalogue", "--output", str(target)])
    assert written.exit_code == 0, written.output
    assert target.read_text(encoding="utf-8") == render()


def test_with_an_agreement_each_field_shows_its_data_category(cheshire):
    page = render(cheshire)
    row = next(line for line in page.splitlines() if line.startswith("| `payload.alert.detail` |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[3] == "health" and cells[4] == "yes"  # the catalogue files it under health
    printed = CliRunner().invoke(policy_app, ["catalogue", "--policy", str(cheshire.directory)])
    assert printed.exit_code == 0 and printed.stdout == page
