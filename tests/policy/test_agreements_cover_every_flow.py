"""Both sample agreements are tested flow by flow: every flow decides at least one
policy test, and every permit flow is shown refusing a record of its own sender,
recipient and category (issue 16). They also lint clean and carry the version the
issue gave them."""

from __future__ import annotations

import datetime as dt

import pytest

from gateway.policy import load_bundle
from gateway.policy.tools.lint import lint
from gateway.policy.tools.suite import run_suites
from tests.policy.conftest import CHESHIRE, WEST_MIDLANDS

AGREEMENTS = {"cheshire-hru": CHESHIRE, "west-midlands-easi": WEST_MIDLANDS}
VERSIONS = {"cheshire-hru": "2026.6", "west-midlands-easi": "2026.6"}


@pytest.fixture(scope="module", params=sorted(AGREEMENTS))
def agreement(request):
    bundle = load_bundle(AGREEMENTS[request.param])
    return request.param, bundle, run_suites(bundle)


def test_every_policy_test_passes(agreement):
    _, _, report = agreement
    assert report.passed, report.render()


def test_every_flow_decides_a_policy_test(agreement):
    _, _, report = agreement
    assert report.uncovered == [], report.render()


def test_every_permit_flow_is_shown_refusing(agreement):
    _, _, report = agreement
    assert report.never_refused == [], report.render()


def test_the_agreement_lints_clean_and_carries_its_version(agreement):
    name, bundle, _ = agreement
    result = lint(AGREEMENTS[name], today=dt.date(2026, 11, 26))
    assert [str(f) for f in result.findings] == []
    assert bundle.agreement_version == VERSIONS[name]
