"""A policy that does not load says which file, which line, which field, and what was expected."""

from __future__ import annotations

import pytest

from gateway.errors import PolicyLoadError
from gateway.policy import load_bundle
from tests.policy.helpers import copy_agreement, edit, line_of


def load_error(directory) -> PolicyLoadError:
    with pytest.raises(PolicyLoadError) as caught:
        load_bundle(directory)
    return caught.value


def test_unknown_party_names_file_line_field_and_the_known_parties(tmp_path):
    policy = copy_agreement(tmp_path)
    flows = policy / "flows.yaml"
    edit(flows, "    to: [probation-spoc-north,", "    to: [probation-spoc-nrth,")
    error = load_error(policy)
    (problem,) = error.problems
    assert problem.record == f"flows.yaml:{line_of(flows, 'probation-spoc-nrth')}"
    assert problem.field == "flows[0].to[0]"
    assert "unknown party 'probation-spoc-nrth'" in problem.message
    assert "probation-spoc-north" in problem.message  # what was expected


def test_misspelt_field_path_is_refused_at_load(tmp_path):
    policy = copy_agreement(tmp_path)
    flows = policy / "flows.yaml"
    edit(flows, "      - payload.crime.offence\n", "      - payload.crime.ofence\n")
    error = load_error(policy)
    problem = error.problems[0]
    assert problem.record == f"flows.yaml:{line_of(flows, 'payload.crime.ofence')}"
    assert "unknown canonical field 'payload.crime.ofence'" in problem.message


def test_schema_error_names_the_line_and_the_allowed_values(tmp_path):
    policy = copy_agreement(tmp_path)
    flows = policy / "flows.yaml"
    edit(flows, "transform: age-band", "transform: age-bands")
    error = load_error(policy)
    messages = [f"{p.record} {p.field}: {p.message}" for p in error.problems]
    assert len(messages) == 1, messages
    assert messages[0].startswith(f"flows.yaml:{line_of(flows, 'age-bands')} ")
    assert "transform" in messages[0] and "'pseudonymise'" in messages[0]


def test_unknown_key_is_an_error_not_ignored(tmp_path):
    policy = copy_agreement(tmp_path)
    edit(
        policy / "flows.yaml",
        "    lawful_basis: dpa-part3",
        "    lawfull_basis: x\n    lawful_basis: dpa-part3",
    )
    error = load_error(policy)
    assert any(
        p.field == "flows[0].lawfull_basis" and "unknown field" in p.message for p in error.problems
    )


def test_special_category_without_art9_condition_does_not_load(tmp_path):
    policy = copy_agreement(tmp_path)
    flows = policy / "flows.yaml"
    edit(
        flows,
        "    special_category_condition: gdpr-art9-preventing-crime\n    fields:",
        "    fields:",
    )
    error = load_error(policy)
    (problem,) = error.problems
    assert "cwp-engagement-to-police" in problem.message
    assert "special-category data (payload.health)" in problem.message
    assert problem.record == f"flows.yaml:{line_of(flows, '      - payload.health')}"


def test_a_basis_that_is_not_an_art9_condition_does_not_count(tmp_path):
    policy = copy_agreement(tmp_path)
    edit(
        policy / "flows.yaml",
        "special_category_condition: gdpr-art9-preventing-crime",
        "special_category_condition: gdpr-public-task",
    )
    error = load_error(policy)
    assert "'gdpr-public-task' is not marked special_category" in error.problems[0].message


def test_catalogue_special_category_also_needs_a_condition(tmp_path):
    """payload.alert.detail is health by the catalogue, not by the contract."""
    policy = copy_agreement(tmp_path)
    edit(
        policy / "flows.yaml",
        "    special_category_condition: vital-interests-art9\n",
        "",
    )
    error = load_error(policy)
    assert "suicidal-ideation-to-crisis-line" in error.problems[0].message


def test_broken_yaml_names_the_line(tmp_path):
    policy = copy_agreement(tmp_path)
    edit(policy / "flows.yaml", "    from: cheshire-police\n", "    from: [cheshire-police\n")
    error = load_error(policy)
    assert error.problems[0].record.startswith("flows.yaml:")
    assert "not valid YAML" in str(error)


def test_duplicate_ids_name_both_places(tmp_path):
    policy = copy_agreement(tmp_path)
    edit(
        policy / "flows.yaml",
        "  - id: police-custody-to-probation-spoc",
        "  - id: police-crime-to-probation-spoc",
    )
    error = load_error(policy)
    assert "declared twice (first at flows.yaml:" in error.problems[0].message
