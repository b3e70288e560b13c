"""Routing tests as data: the samples pass, and a failure reads as a difference."""

from __future__ import annotations

import shutil

from gateway.policy import load_bundle
from gateway.routing import load_routes
from gateway.routing.suite import run_suites
from tests.routing.conftest import CHESHIRE, WEST_MIDLANDS

CASE = """\
name: Small
fixtures:
  alert:
    exchange:
      source_partner: probation-spoc-north
      category: urgent_alert
      urgency: immediate
      subjects: [{ref: P1, role: offender}]
      payload: {alert: {kind: threat_to_kill, raised_at: 2026-06-01T09:55:00Z}}
tests:
"""


def test_the_sample_suites_pass_and_cover_every_route():
    for agreement in (CHESHIRE, WEST_MIDLANDS):
        routes = load_routes(agreement / "routes", load_bundle(agreement))
        report = run_suites(routes, agreement / "routes" / "tests")
        assert report.passed, report.render()
        assert report.uncovered == []
        assert len(report.results) >= 20


def _suite(tmp_path, cheshire, cases: str):
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "small.yaml").write_text(CASE + cases, encoding="utf-8")
    return run_suites(cheshire, tests)


def test_a_failure_prints_what_differs(tmp_path, cheshire):
    report = _suite(
        tmp_path,
        cheshire,
        """\
  - name: Christmas expected in hours, wrongly
    at: 2026-12-25T10:00:00Z
    exchange: alert
    party: cheshire-police
    acknowledge_within: 15 minutes
    expect:
      route: police-routine
      in_hours: true
      steps: [hru-duty, hru-inspector]
  - name: Deadline wrong
    at: 2026-12-25T10:00:00Z
    exchange: alert
    party: cheshire-police
    expect:
      steps:
        - {desk: control-room, acknowledge_within: 15 minutes}
        - {desk: control-room-inspector, party: cheshire-police}
""",
    )
    assert not report.passed
    text = report.render()
    assert "FAIL  Small :: Christmas expected in hours, wrongly" in text
    assert "route: expected police-routine, got police-urgent" in text
    assert "in_hours: expected True, got False" in text
    assert "steps: expected hru-duty -> hru-inspector" in text
    assert "got      control-room -> control-room-inspector" in text
    assert "1. control-room (cheshire-control-room), 10 minutes: out of hours fallback" in text
    assert "step 1 (control-room): acknowledge within expected 15 minutes, got 10 minutes" in text
    assert (
        "step 2 (control-room-inspector): party expected cheshire-police, got cheshire-control-room"
    ) in text
    assert text.endswith("0 passed, 2 failed, 0 errors")


def test_a_time_without_an_offset_and_unknown_names_do_not_load(tmp_path, cheshire):
    report = _suite(
        tmp_path,
        cheshire,
        """\
  - name: Local time
    at: 2026-12-25T10:00:00
    exchange: alert
    party: cheshire-police
    expect: {steps: [control-room]}
""",
    )
    assert "at needs an offset" in report.render() and "small.yaml:12" in report.render()
    shutil.rmtree(tmp_path / "tests")
    report = _suite(
        tmp_path,
        cheshire,
        """\
  - name: Unknown names
    at: 2026-12-25T10:00:00Z
    exchange: alrt
    party: cheshire-polce
    expect: {route: nope, steps: [control-room]}
""",
    )
    text = report.render()
    assert "small.yaml:13: tests[0].exchange: unknown fixture 'alrt'" in text
    assert "small.yaml:14: tests[0].party: unknown party 'cheshire-polce'" in text
    assert "small.yaml:15: tests[0].expect.route: unknown route 'nope'" in text
    assert text.endswith("0 passed, 0 failed, 1 errors")


def test_no_tests_is_an_error(tmp_path, cheshire):
    report = run_suites(cheshire, tmp_path / "none")
    assert not report.passed and "no routing tests" in report.render()
