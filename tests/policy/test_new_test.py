"""``gateway policy new-test``: a skeleton from an example record that passes as written."""

from __future__ import annotations

import json

import jsonschema
import yaml
from typer.testing import CliRunner

from gateway.cli.policy import policy_app
from gateway.policy import load_bundle
from gateway.policy.tools.new_test import TODO
from gateway.policy.tools.suite import load_suite, run_suites
from tests.policy.conftest import CHESHIRE, ROOT

EXAMPLE = ROOT / "examples" / "police" / "stalking-crime.json"
SCHEMA = ROOT / "policies" / "schema" / "policy-test.schema.json"

runner = CliRunner()


def new_test(*args: str):
    return runner.invoke(policy_app, ["new-test", *map(str, args)])


def test_skeleton_loads_validates_and_passes(tmp_path):
    tests_dir = tmp_path / "tests"
    tests_dir.mkdir()
    target = tests_dir / "stalking-crime.yaml"
    result = new_test(
        EXAMPLE, "--format", "police", "--sender", "cheshire-police", "--policy-dir", CHESHIRE,
        "--output", target,
    )  # fmt: skip
    assert result.exit_code == 0, result.output

    text = target.read_text(encoding="utf-8")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validate(yaml.safe_load(text), schema)
    suite = load_suite(target)

    bundle = load_bundle(CHESHIRE)
    candidates = set(bundle.parties) - {"cheshire-police"}
    assert {r for case in suite.tests for r in case.expect} == candidates
    assert all(len(case.expect) == 1 for case in suite.tests)

    report = run_suites(bundle, tests_dir)
    assert report.passed, report.render()
    assert len(report.results) == len(candidates)


def test_every_expectation_is_marked_for_the_lead_to_confirm():
    result = new_test(EXAMPLE, "--format", "police", "--sender", "cheshire-police")
    assert result.exit_code == 0, result.output
    effects = [line for line in result.stdout.splitlines() if line.strip().startswith("effect:")]
    assert effects and all(TODO in line for line in effects)
    assert result.stdout.startswith("# yaml-language-server: $schema=")


def test_fixture_is_the_record_as_the_adapter_ingests_it():
    result = new_test(EXAMPLE, "--format", "police", "--sender", "cheshire-police")
    fixture = next(iter(yaml.safe_load(result.stdout)["fixtures"].values()))["exchange"]
    assert fixture["source_partner"] == "cheshire-police"
    assert fixture["payload"]["crime"]["occurrence_number"] == "CC-2026-004512"
    assert "exchange_id" not in fixture and "submitted_at" not in fixture


def test_an_unknown_sender_or_format_is_a_plain_error():
    result = new_test(EXAMPLE, "--format", "police", "--sender", "nobody")
    assert result.exit_code == 2 and "not a party" in result.stderr
    result = new_test(EXAMPLE, "--format", "nope", "--sender", "cheshire-police")
    assert result.exit_code == 2 and "no adapter" in result.stderr
    assert "Traceback" not in result.output
