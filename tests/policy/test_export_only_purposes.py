"""A purpose kept for the gateway's own exports (the evaluation export) is never a
live record's: a partner declaring it is refused, and no registration may default
to it, so the evaluator never receives record by record what the export coarsens."""

from __future__ import annotations

import shutil

import pytest

from gateway.errors import InvalidRecord, PolicyLoadError
from gateway.pipeline.validate import validate
from gateway.policy import load_bundle
from tests.conftest import ROOT
from tests.policy.conftest import crime_exchange
from tests.policy.helpers import edit

EXPORT_PURPOSE = "linked-outcome-evaluation"


@pytest.mark.parametrize("agreement", ["cheshire-hru", "west-midlands-easi"])
def test_the_sample_agreements_keep_the_evaluation_purpose_for_the_export(agreement):
    bundle = load_bundle(ROOT / "policies" / agreement)
    assert bundle.purposes[EXPORT_PURPOSE].export_only
    assert not any(p.export_only for i, p in bundle.purposes.items() if i != EXPORT_PURPOSE)


def test_a_record_declaring_an_export_only_purpose_is_refused_by_its_place():
    bundle = load_bundle(ROOT / "policies" / "cheshire-hru")
    exchange = crime_exchange(purpose=None, purposes=["stalking-risk-management", EXPORT_PURPOSE])
    with pytest.raises(InvalidRecord) as refused:
        validate(exchange, bundle)
    [problem] = refused.value.problems
    assert problem.field == "purposes[1]"
    assert "gateway's own exports" in problem.message


def test_a_registration_defaulting_to_an_export_only_purpose_does_not_load(tmp_path):
    directory = tmp_path / "cheshire-hru"
    shutil.copytree(ROOT / "policies" / "cheshire-hru", directory)
    edit(
        directory / "agreement.yaml",
        "        crime_record: [stalking-risk-management, victim-safeguarding]\n",
        f"        crime_record: [stalking-risk-management, {EXPORT_PURPOSE}]\n",
    )
    with pytest.raises(PolicyLoadError) as refused:
        load_bundle(directory)
    messages = [p.message for p in refused.value.problems]
    assert any("for the gateway's exports only" in m for m in messages), messages
