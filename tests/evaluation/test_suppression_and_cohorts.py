"""Suppression rules on small tables, and cohorts checked against the agreement."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway.errors import PolicyLoadError
from gateway.evaluation import load_cohorts, suppress
from gateway.policy import load_bundle

COLUMNS: list[tuple[str, str | None]] = [("people", None), ("reoffended", "people")]


def cells(found) -> dict[tuple[str, str], str]:
    return {(s.group, s.column): s.reason.split(":")[0] for s in found}


def test_nothing_is_suppressed_when_every_cell_and_complement_is_large():
    rows = {
        "a": {"people": 40, "reoffended": 10},
        "b": {"people": 30, "reoffended": 12},
        "all": {"people": 70, "reoffended": 22},
    }
    assert suppress(rows, COLUMNS, "all", 5) == []


def test_a_small_cell_is_hidden_and_so_is_the_total_that_would_give_it_away():
    rows = {
        "a": {"people": 40, "reoffended": 3},
        "b": {"people": 30, "reoffended": 12},
        "all": {"people": 70, "reoffended": 15},
    }
    assert cells(suppress(rows, COLUMNS, "all", 5)) == {
        ("a", "reoffended"): "primary",
        ("all", "reoffended"): "secondary",
    }


def test_a_small_complement_is_hidden_too_and_the_threshold_is_configurable():
    rows = {
        "a": {"people": 20, "reoffended": 17},  # 3 did not reoffend
        "b": {"people": 30, "reoffended": 12},
        "all": {"people": 50, "reoffended": 29},
    }
    assert ("a", "reoffended") in cells(suppress(rows, COLUMNS, "all", 5))
    assert ("a", "reoffended") not in cells(suppress(rows, COLUMNS, "all", 3))
    strict = cells(suppress(rows, COLUMNS, "all", 13))
    assert strict[("b", "reoffended")] == "primary"  # 12 < 13


def test_two_small_groups_need_no_secondary_suppression():
    rows = {
        "a": {"people": 4, "reoffended": 20},
        "b": {"people": 3, "reoffended": 20},
        "c": {"people": 50, "reoffended": 20},
        "all": {"people": 57, "reoffended": 60},
    }
    found = cells(suppress(rows, [("people", None)], "all", 5))
    assert found == {("a", "people"): "primary", ("b", "people"): "primary"}


def test_the_sample_agreements_define_cohorts_for_their_evaluators():
    west = load_cohorts(load_bundle("policies/west-midlands-easi"))
    assert west["easi-2024"].recipient == "derby-evaluation"
    assert west["easi-2024"].suppress_under == 5
    cheshire = load_cohorts(load_bundle("policies/cheshire-hru"))
    assert cheshire["hru-2024"].recipient == "hru-evaluation"


def _copy(tmp_path: Path, cohorts: str) -> Path:
    target = tmp_path / "agreement"
    shutil.copytree("policies/west-midlands-easi", target)
    (target / "evaluation" / "cohorts.yaml").write_text(cohorts)
    return target


def test_a_cohort_must_name_a_permit_flow_to_an_evaluator(tmp_path: Path):
    wrong = _copy(
        tmp_path,
        """cohorts:
  - id: to-the-cps
    description: not an evaluator
    recipient: cps-stalking-spoc
    purpose: linked-outcome-evaluation
    entry: {referred_to: [triage-clinic], from: 2024-01-01, until: 2024-12-31}
""",
    )
    with pytest.raises(PolicyLoadError) as raised:
        load_cohorts(load_bundle(wrong))
    messages = [f"{p.record} {p.message}" for p in raised.value.problems]
    assert any("does not go to 'cps-stalking-spoc'" in m for m in messages)
    assert any("not an evaluator party" in m and "cohorts.yaml:4" in m for m in messages)


def test_a_cohort_period_runs_forward(tmp_path: Path):
    wrong = _copy(
        tmp_path,
        """cohorts:
  - id: backwards
    description: until before from
    recipient: derby-evaluation
    purpose: linked-outcome-evaluation
    entry: {referred_to: [triage-clinic], from: 2024-12-31, until: 2024-01-01}
""",
    )
    with pytest.raises(PolicyLoadError, match="cohorts"):
        load_cohorts(load_bundle(wrong))


def test_a_zero_is_shown_but_a_group_that_all_reoffended_is_not():
    rows = {
        "a": {"people": 12, "reoffended": 0},  # nobody: says nothing about anyone
        "b": {"people": 9, "reoffended": 9},  # everyone: says it of each of them
        "c": {"people": 30, "reoffended": 10},
        "d": {"people": 0, "reoffended": 0},  # an empty group hides nothing
        "all": {"people": 51, "reoffended": 19},
    }
    assert cells(suppress(rows, COLUMNS, "all", 5)) == {
        ("b", "reoffended"): "primary",
        ("all", "reoffended"): "secondary",
    }
