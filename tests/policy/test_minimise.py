"""Minimisation: what crosses, in what form, and what the audit may say about it."""

from __future__ import annotations

import json

import pytest

from gateway.policy import decide, minimise, minimise_for
from gateway.policy.transforms import PseudonymKeyMissing
from tests.policy.conftest import crime_exchange

KEY = b"test-key"


def permit(bundle, exchange, recipient):
    (decision,) = [d for d in decide(bundle, exchange) if d.recipient == recipient]
    assert decision.permitted, decision.reason
    return decision


def test_north_spoc_gets_only_its_allow_list(cheshire):
    exchange = crime_exchange()
    out = minimise_for(
        permit(cheshire, exchange, "probation-spoc-north"), exchange.model_dump(mode="json"), KEY
    )
    assert set(out.record) == {
        "contract_version",
        "exchange_id",
        "source_partner",
        "submitted_at",
        "category",
        "purpose",
        "urgency",
        "case_reference",
        "subjects",
        "payload",
    }
    assert set(out.record["payload"]["crime"]) == {"occurrence_number", "offence", "status"}
    assert all("address" not in s and "safe_contact" not in s for s in out.record["subjects"])
    assert "payload.crime.summary" in out.removed
    assert "subjects[].safe_contact" in out.removed


def test_removed_and_transformed_name_paths_never_values(cheshire):
    exchange = crime_exchange(purpose="service-evaluation")
    out = minimise_for(
        permit(cheshire, exchange, "hru-evaluation"), exchange.model_dump(mode="json"), KEY
    )
    audit = json.dumps(out.as_audit())
    for secret in ("Marsh", "Keane", "12/345678A", "WA1 1AA", "Elm Close", "1985"):
        assert secret not in audit
    assert {
        "path": "subjects[].identifiers[].value",
        "transform": "pseudonymise",
    } in out.as_audit()["transformed"]


def test_generalise_pseudonymise_per_recipient(cheshire):
    exchange = crime_exchange(purpose="service-evaluation")
    record = exchange.model_dump(mode="json")
    decision = permit(cheshire, exchange, "hru-evaluation")
    out = minimise_for(decision, record, KEY)
    perpetrator = out.record["subjects"][0]
    assert perpetrator["date_of_birth"] == "35-44"  # born 1985-03-02, record of 2026-11-20
    assert perpetrator["address"] == {"postcode": "WA1"}
    pseudonym = perpetrator["identifiers"][0]["value"]
    assert pseudonym.startswith("pn-") and "345678" not in pseudonym
    assert minimise_for(decision, record, KEY).record == out.record  # stable
    assert minimise_for(decision, record, b"other-key").record != out.record  # keyed
    other = decision.__class__(**{**decision.__dict__, "recipient": "someone-else"})
    assert (
        minimise_for(other, record, KEY).record["subjects"][0]["identifiers"][0]["value"]
        != pseudonym
    )


def test_pseudonymising_without_a_key_is_refused(cheshire):
    exchange = crime_exchange(purpose="service-evaluation")
    with pytest.raises(PseudonymKeyMissing):
        minimise_for(
            permit(cheshire, exchange, "hru-evaluation"), exchange.model_dump(mode="json"), b""
        )


def test_truncate_keeps_the_limit(cheshire):
    exchange = crime_exchange(purpose="victim-safeguarding")
    out = minimise_for(
        permit(cheshire, exchange, "victim-advocates"), exchange.model_dump(mode="json"), KEY
    )
    summary = out.record["payload"]["crime"]["summary"]
    assert len(summary) == 280 and summary.endswith("…")
    assert ("payload.crime.summary", "truncate") in out.transformed


def test_victim_address_never_reaches_a_perpetrator_facing_service(cheshire):
    exchange = crime_exchange()
    out = minimise_for(
        permit(cheshire, exchange, "mersey-care-forensic"), exchange.model_dump(mode="json"), KEY
    )
    suspect, victim = out.record["subjects"]
    assert suspect["address"]["local_authority"] == "Warrington"
    assert "address" not in victim and "safe_contact" not in victim
    assert victim["name"] == {"given": "Sarah", "family": "Keane"}


def test_prohibited_identifiers_are_removed_only_for_the_perpetrator(cheshire):
    data = crime_exchange(purpose="victim-safeguarding").model_dump(mode="json")
    data["subjects"][1]["identifiers"] = [{"system": "local", "value": "V-77"}]
    exchange = crime_exchange(purpose="victim-safeguarding", subjects=data["subjects"])
    out = minimise_for(
        permit(cheshire, exchange, "victim-advocates"), exchange.model_dump(mode="json"), KEY
    )
    suspect, victim = out.record["subjects"]
    assert "identifiers" not in suspect
    assert victim["identifiers"] == [{"system": "local", "value": "V-77"}]


def test_a_deny_discloses_nothing(cheshire):
    exchange = crime_exchange()
    (east,) = [d for d in decide(cheshire, exchange) if d.recipient == "probation-spoc-east"]
    out = minimise_for(east, exchange.model_dump(mode="json"), KEY)
    assert out.record == {} and out.disclosed == ()
    assert "payload.crime.offence.code" in out.removed


def test_plain_allow_list_minimise_still_works():
    record = crime_exchange().model_dump(mode="json")
    out = minimise(record, ["payload.crime.offence"])
    assert out.record["payload"] == {
        "crime": {"offence": {"code": "8Q", "description": "Stalking"}}
    }
    assert "subjects" not in out.record
