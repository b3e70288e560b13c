"""The sample agreements' own policy tests pass, cover every flow, and fail readably."""

from __future__ import annotations

import pytest

from gateway.policy import load_bundle
from gateway.policy.tools.suite import build_fixture, load_suite, run_suites
from tests.policy.conftest import CHESHIRE, WEST_MIDLANDS
from tests.policy.helpers import copy_agreement, edit, share_the_summary_with_the_probation_spocs

AGREEMENTS = [CHESHIRE, WEST_MIDLANDS]


@pytest.mark.parametrize("directory", AGREEMENTS, ids=lambda d: d.name)
def test_sample_policy_tests_pass(directory):
    report = run_suites(load_bundle(directory))
    assert report.passed, report.render()
    assert len(report.results) >= 10


@pytest.mark.parametrize("directory", AGREEMENTS, ids=lambda d: d.name)
def test_every_flow_decides_at_least_one_policy_test(directory):
    bundle = load_bundle(directory)
    report = run_suites(bundle)
    assert report.uncovered == [], f"flows no policy test exercises: {report.uncovered}"


def test_a_failing_expectation_prints_a_readable_difference(tmp_path):
    policy = copy_agreement(tmp_path)
    share_the_summary_with_the_probation_spocs(policy)
    report = run_suites(load_bundle(policy))
    assert not report.passed
    text = report.render()
    assert "FAIL  Police crime records :: North SPOC gets the offence and identities" in text
    assert "probation-spoc-north: disclosed fields differ" in text
    assert "  + payload.crime.summary" in text
    assert "must not be disclosed, but was: payload.crime.summary" in text


def test_fixtures_extend_and_set_by_path():
    suite = load_suite(CHESHIRE / "tests" / "crime-records.yaml")
    crewe = build_fixture("crewe-stalking", suite.fixtures)
    assert crewe["subjects"][0]["address"]["local_authority"] == "Cheshire East"
    assert crewe["subjects"][1]["address"]["local_authority"] == "Halton"
    assert (
        crewe["exchange_id"] != build_fixture("warrington-stalking", suite.fixtures)["exchange_id"]
    )


def test_a_test_naming_an_unknown_fixture_is_an_error_with_its_line(tmp_path):
    policy = copy_agreement(tmp_path)
    edit(
        policy / "tests" / "alerts.yaml",
        "    exchange: threat-to-kill",
        "    exchange: threat-to-kil",
    )
    report = run_suites(load_bundle(policy))
    assert not report.passed
    assert any(
        "alerts.yaml:" in e and "unknown fixture 'threat-to-kil'" in e for e in report.errors
    )


def test_a_misspelt_path_in_an_expectation_is_an_error_not_a_vacuous_pass(tmp_path):
    policy = copy_agreement(tmp_path)
    edit(
        policy / "tests" / "alerts.yaml",
        "not_disclosed: [payload.alert.detail]",
        "not_disclosed: [payload.alert.detial]",
    )
    report = run_suites(load_bundle(policy))
    assert any("unknown canonical field 'payload.alert.detial'" in e for e in report.errors)
