"""Replay a candidate agreement against recorded exchanges, in memory and from the real store."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from gateway.cli.policy import policy_app
from gateway.policy import decide, load_bundle, minimise_for
from gateway.policy.tools.replay import replay
from gateway.store import Store
from tests.conftest import recording_pipeline
from tests.policy.conftest import CHESHIRE, ROOT, crime_exchange
from tests.policy.helpers import copy_agreement, edit, share_the_summary_with_the_probation_spocs


def recorded(bundle, exchanges):
    """What the gateway stores: decision records with the disclosed paths."""
    for exchange in exchanges:
        record = exchange.model_dump(mode="json")
        rows = []
        for decision in decide(bundle, exchange):
            row = decision.as_record()
            row["disclosed"] = (
                list(minimise_for(decision, record, b"k").disclosed) if decision.permitted else []
            )
            rows.append(row)
        yield exchange, rows


def candidate_sharing_the_summary(tmp_path: Path) -> Path:
    policy = copy_agreement(tmp_path)
    share_the_summary_with_the_probation_spocs(policy)
    edit(policy / "flows.yaml", "        at_least: high", "        at_least: very_high")
    return policy


def test_replay_reports_changed_fields_and_decisions_per_flow(tmp_path, cheshire):
    candidate = load_bundle(candidate_sharing_the_summary(tmp_path))
    report = replay(candidate, recorded(cheshire, [crime_exchange(), crime_exchange()]))
    assert report.exchanges == 2
    north = report.flows[("cheshire-police", "probation-spoc-north", "crime_record")]
    assert north.changed == 2 and north.fields_added == {"payload.crime.summary": 2}
    forensic = report.flows[("cheshire-police", "mersey-care-forensic", "crime_record")]
    assert forensic.newly_denied == 2
    text = report.render()
    assert "cheshire-police -> probation-spoc-north (crime_record): 2 of 2 would change" in text
    assert "+ payload.crime.summary would now be disclosed (2)" in text
    assert "decided by police-crime-to-forensic-psychology -> default-deny: 2" in text


def test_replay_under_the_same_agreement_changes_nothing(cheshire):
    report = replay(cheshire, recorded(cheshire, [crime_exchange()]))
    assert report.changed == 0
    assert "0 decision(s) would change" in report.render()


def test_replay_command_reads_what_the_pipeline_recorded(tmp_path, cheshire):
    data_dir = tmp_path / "data"
    store = Store.from_url(f"sqlite:///{(data_dir / 'gateway.db').resolve()}")
    store.upgrade()
    pipeline = recording_pipeline(store, cheshire)
    body = (ROOT / "examples/police/stalking-crime.json").read_bytes()
    pipeline.submit("police", body, "application/json", "cheshire-police")

    candidate = candidate_sharing_the_summary(tmp_path)
    result = CliRunner().invoke(policy_app, ["replay", str(candidate), "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.stderr
    assert "Replayed 1 recorded exchange(s)" in result.stdout
    assert "+ payload.crime.summary would now be disclosed (1)" in result.stdout

    same = CliRunner().invoke(policy_app, ["replay", str(CHESHIRE), "--data-dir", str(data_dir)])
    assert "0 decision(s) would change" in same.stdout
    later = CliRunner().invoke(
        policy_app, ["replay", str(candidate), "--data-dir", str(data_dir), "--since", "2999-01-01"]
    )
    assert "Replayed 0 recorded exchange(s)" in later.stdout
