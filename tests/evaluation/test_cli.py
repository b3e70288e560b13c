"""The data custodian's commands on the store the synthetic partnership filled:
gateway evaluation cohorts | export, gateway linking list | show | unlink | relink."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli import app
from tests.evaluation.conftest import KEY, WEST_MIDLANDS, World


@pytest.fixture
def custodian(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", world.url)
    monkeypatch.setenv("GATEWAY_LINKING_KEY", KEY.decode())
    monkeypatch.setenv("GATEWAY_POLICY_DIR", str(WEST_MIDLANDS))
    return world


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_cohorts_are_listed(custodian: World):
    result = run("evaluation", "cohorts")
    assert result.exit_code == 0, result.output
    assert "easi-2024: referrals to triage-clinic from 2024-01-01 to 2024-12-31" in result.output
    assert "derby-evaluation" in result.output


def test_export_writes_every_file_and_says_what_it_did(custodian: World, tmp_path: Path):
    out = tmp_path / "derby"
    result = run(
        "evaluation",
        "export",
        "--cohort",
        "easi-2024",
        "--out",
        str(out),
        "--as-of",
        "2026-06-01",
        "--by",
        "custodian:cli",
    )
    assert result.exit_code == 0, result.output
    assert "exported cohort easi-2024" in result.output and "200 people" in result.output
    names = {p.name for p in out.iterdir()}
    for table in (
        "people",
        "referrals",
        "interventions",
        "risk",
        "reviews",
        "police_records",
        "measures",
    ):
        assert {f"{table}.csv", f"{table}.parquet"} <= names
    assert {
        "data_dictionary.csv",
        "data_dictionary.md",
        "manifest.json",
        "suppression.csv",
    } <= names


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cohort", "nope"], "no cohort 'nope'"),
        (["--cohort", "easi-2024", "--as-of", "June"], "is not a date"),
    ],
)
def test_export_mistakes_are_a_plain_message(custodian: World, tmp_path: Path, args, message):
    result = run("evaluation", "export", "--out", str(tmp_path / "x"), *args)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_without_a_linking_key_outside_the_embedded_default_nothing_is_exported(
    custodian: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("GATEWAY_LINKING_KEY")
    result = run("evaluation", "export", "--cohort", "easi-2024", "--out", str(tmp_path / "x"))
    assert result.exit_code == 2
    assert "GATEWAY_LINKING_KEY is not set" in result.output
    assert not (tmp_path / "x").exists()


def test_the_index_is_up_to_date_after_an_export(custodian: World):
    result = run("linking", "index")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("indexed 0 record(s)")


def test_the_custodian_lists_shows_unlinks_and_relinks(custodian: World):
    listed = run("linking", "list", "--json", "--limit", "3")
    assert listed.exit_code == 0, listed.output
    persons = json.loads(listed.output)
    assert len(persons) == 3 and all(p["links"] >= 1 for p in persons)
    person = persons[0]["person"]
    shown = run("linking", "show", person, "--json")
    assert shown.exit_code == 0, shown.output
    evidence = json.loads(shown.output)
    link = next(e for e in evidence if len(e["identifiers"]) > 1)
    for e in evidence:  # keyed hashes and record ids, never an identifier
        assert all(len(i["keyed_hash"]) == 32 for i in e["identifiers"])
    assert "audit_entry" in link
    unlinked = run(
        "linking",
        "unlink",
        link["exchange_id"],
        link["subject_ref"],
        "--reason",
        "checking a suspected mix-up",
        "--by",
        "custodian:cli",
    )
    assert unlinked.exit_code == 0, unlinked.output
    assert unlinked.output.startswith("unlinked subject")
    again = run("linking", "unlink", link["exchange_id"], link["subject_ref"], "--reason", "x")
    assert again.exit_code == 2 and "already" in again.output
    relinked = run(
        "linking",
        "relink",
        link["exchange_id"],
        link["subject_ref"],
        "--reason",
        "no mix-up",
        "--by",
        "custodian:cli",
    )
    assert relinked.exit_code == 0, relinked.output
    missing = run("linking", "show", "no-such-person")
    assert missing.exit_code == 2 and "no person" in missing.output
    conflicts = run("linking", "list", "--conflicts")
    assert conflicts.exit_code == 0 and "no linked persons with conflicts" in conflicts.output
