"""The governance lead's commands, run as the lead runs them (typer's runner, real files)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from gateway.cli.policy import policy_app
from tests.policy.conftest import CHESHIRE, ROOT, crime_exchange
from tests.policy.helpers import copy_agreement, edit

runner = CliRunner()


def run(*args: str):
    return runner.invoke(policy_app, [str(a) for a in args])


def test_lint_passes_on_every_sample_agreement():
    result = run("lint", ROOT / "policies")
    assert result.exit_code == 0, result.stdout
    assert "cheshire-hru: ok" in result.stdout


def test_lint_fails_with_every_finding_and_no_traceback(tmp_path):
    policy = copy_agreement(tmp_path)
    edit(policy / "flows.yaml", "        at_least: high", "        at_least: hgh")
    edit(policy / "prohibitions.yaml", "to_tags: [victim-services]", "to_tags: [nobody]")
    result = run("lint", policy)
    assert result.exit_code == 1
    assert "2 error(s)" in result.stdout
    assert "can never match" in result.stdout and "protects nothing" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_a_missing_directory_is_a_plain_error():
    result = run("lint", "no/such/dir")
    assert result.exit_code == 2
    assert result.stderr.strip() == "no/such/dir: no such policy directory"


def test_test_command_passes_and_fails_readably(tmp_path):
    assert run("test", CHESHIRE).exit_code == 0
    policy = copy_agreement(tmp_path)
    edit(policy / "agreement.yaml", "areas: [Warrington, Halton]", "areas: [Halton]")
    result = run("test", policy)
    assert result.exit_code == 1
    assert "FAIL  Police crime records :: North SPOC gets the offence" in result.stdout
    assert "probation-spoc-north: effect: expected permit, got deny" in result.stdout


def test_explain_a_canonical_exchange_file(tmp_path):
    path = tmp_path / "exchange.json"
    path.write_text(crime_exchange().model_dump_json())
    result = run("explain", path, "--policy", CHESHIRE, "--recipient", "probation-spoc-east")
    assert result.exit_code == 0, result.stderr
    assert "probation-spoc-east: DENY by default-deny" in result.stdout
    assert (
        "[ ] subjects[].address.local_authority (of a perpetrator/suspect/offender) "
        "is in the recipient's areas (Cheshire East)" in result.stdout
    )
    assert "probation-spoc-north" not in result.stdout


def test_explain_a_native_police_record_field_by_field():
    result = run(
        "explain",
        ROOT / "examples/police/stalking-crime.json",
        "--policy",
        CHESHIRE,
        "--format",
        "police",
        "--sender",
        "cheshire-police",
        "--recipient",
        "probation-spoc-north",
    )
    assert result.exit_code == 0, result.stderr
    assert "payload.crime.summary: removed: no rule shares it" in result.stdout
    assert "payload.crime.offence.code: keep by police-crime-to-probation-spoc" in result.stdout


def test_explain_says_what_to_do_with_a_native_file_given_as_canonical():
    result = run("explain", ROOT / "examples/police/stalking-crime.json", "--policy", CHESHIRE)
    assert result.exit_code == 2
    assert "not a canonical exchange" in result.stderr and "--format" in result.stderr


def test_diff_in_words(tmp_path):
    policy = copy_agreement(tmp_path)
    edit(
        policy / "flows.yaml",
        "      - payload.crime.status\n",
        "      - payload.crime.status\n      - payload.crime.officer_in_case\n",
    )
    edit(policy / "flows.yaml", "      - subjects[].safe_contact\n", "")
    result = run("diff", CHESHIRE, policy)
    assert result.exit_code == 0
    out = result.stdout
    # What is disclosed, per recipient: the officer in case opens to each probation SPOC.
    assert "this change opens 3, closes 1" in out
    assert (
        "- OPENS: probation-spoc-north now receives payload.crime.officer_in_case [offending] "
        "in full, "
        "from cheshire-police (crime record), for stalking-risk-management" in out
    )
    assert (
        "- CLOSES: victim-advocates no longer receives subjects[].safe_contact [location], "
        "from cheshire-police (crime record), for victim-safeguarding" in out
    )


def test_diff_flags_a_loosened_prohibition_on_special_category_data(tmp_path):
    policy = copy_agreement(tmp_path)
    edit(policy / "prohibitions.yaml", "      - payload.health.clinician\n", "")
    result = run("diff", CHESHIRE, policy)
    assert (
        "- OPENS: prohibition therapy-content-never-to-law-enforcement no longer withholds "
        "payload.health.clinician [health] (special category)" in result.stdout
    )


def test_diff_of_identical_agreements_says_so():
    result = run("diff", CHESHIRE, CHESHIRE)
    assert "No change to what is shared" in result.stdout


def test_matrix_markdown_and_html(tmp_path):
    result = run("matrix", CHESHIRE)
    assert result.exit_code == 0
    assert "| From | To | Data | Purpose | Lawful basis |" in result.stdout
    assert "payload.health (health, special category)" in result.stdout
    assert "therapy-content-never-to-law-enforcement" in result.stdout
    out = tmp_path / "appendix.html"
    assert run("matrix", CHESHIRE, "--output", out).exit_code == 0
    page = out.read_text()
    assert page.startswith("<!doctype html>") and "<table>" in page
    assert "UK GDPR Art 9(2)(c) vital interests" in page


def test_replay_without_a_store_is_a_plain_error(tmp_path):
    result = run("replay", CHESHIRE, "--data-dir", tmp_path / "empty")
    assert result.exit_code == 2
    assert "no recorded exchanges" in result.stderr


def test_replay_rejects_a_bad_date(tmp_path):
    result = run("replay", CHESHIRE, "--since", "last tuesday", "--data-dir", tmp_path)
    assert result.exit_code == 2
    assert "is not a date" in result.stderr
    json.dumps(result.stderr)


def test_schema_command_writes_the_published_schemas(tmp_path):
    from gateway.policy.tools import schema

    result = run("schema", "--output", tmp_path)
    assert result.exit_code == 0
    for name in schema.SCHEMAS:
        assert (tmp_path / name).read_text() == (schema.SCHEMA_DIR / name).read_text()


def test_diff_of_a_pdu_taking_on_an_area(tmp_path):
    policy = copy_agreement(tmp_path)
    edit(policy / "agreement.yaml", "areas: [Cheshire East]", "areas: [Cheshire East, Halton]")
    result = run("diff", CHESHIRE, policy)
    assert "- OPENS: probation-spoc-east now also covers Halton" in result.stdout


def test_matrix_lists_the_parties_and_their_marks():
    result = run("matrix", CHESHIRE)
    assert (
        "| Probation Service, North PDU (Warrington and Halton) single point of contact "
        "| probation-spoc-north | probation-spoc | Warrington, Halton | yes | yes |"
        in result.stdout
    )
