"""Deciding: deny by default, explicit deny beats permit, conditions, consent, marks."""

from __future__ import annotations

from contracts import Exchange
from gateway.policy import decide
from gateway.policy.engine import DEFAULT_DENY, RESTRICTED_ACCESS_RULE
from tests.policy.conftest import crime_exchange


def by_recipient(bundle, exchange: Exchange):
    return {d.recipient: d for d in decide(bundle, exchange)}


def test_one_decision_per_party_but_the_sender(cheshire):
    decisions = decide(cheshire, crime_exchange())
    assert sorted(d.recipient for d in decisions) == sorted(
        p for p in cheshire.parties if p != "cheshire-police"
    )


def test_police_crime_reaches_only_the_north_pdu_for_a_warrington_suspect(cheshire):
    decisions = by_recipient(cheshire, crime_exchange())
    north = decisions["probation-spoc-north"]
    assert north.permitted
    assert north.rules == ("police-crime-to-probation-spoc",)
    assert north.lawful_basis == "dpa-part3-law-enforcement"
    assert north.policy_version == cheshire.version
    assert not decisions["probation-spoc-east"].permitted
    assert decisions["probation-spoc-east"].rules == (DEFAULT_DENY,)
    assert "Cheshire East" in decisions["probation-spoc-east"].reason


def test_a_purpose_outside_the_agreement_is_denied_everywhere(cheshire):
    decisions = decide(cheshire, crime_exchange(purpose="marketing"))
    assert all(not d.permitted for d in decisions)


def test_restricted_case_only_reaches_parties_that_honour_access_marks(cheshire):
    data = crime_exchange().model_dump(mode="json")
    data["subjects"][0]["access"] = {"level": "restricted", "named_staff": ["SPOC Jones"]}
    exchange = Exchange.model_validate(data)
    decisions = by_recipient(cheshire, exchange)
    assert decisions["probation-spoc-north"].permitted
    assert decisions["mersey-care-forensic"].rules == (RESTRICTED_ACCESS_RULE,)


def test_as_record_is_json_ready_and_names_the_bundle(cheshire):
    record = by_recipient(cheshire, crime_exchange())["probation-spoc-north"].as_record()
    assert record["policy_version"].startswith("sha256:")
    assert record["consent"] == "not required"
    assert record["obligations"] == ["retain for 2 years"]
    assert "plan" not in record
