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


def test_a_flow_outside_its_dates_does_not_apply(tmp_path):
    from gateway.policy import load_bundle
    from tests.policy.helpers import copy_agreement, edit

    policy = copy_agreement(tmp_path)
    edit(
        policy / "flows.yaml",
        "    lawful_basis: dpa-part3-law-enforcement\n    when: &perpetrator-in-pdu",
        "    lawful_basis: dpa-part3-law-enforcement\n    valid_until: 2026-03-31\n"
        "    when: &perpetrator-in-pdu",
    )
    bundle = load_bundle(policy)
    exchange = crime_exchange()  # 2026-11-20
    north = by_recipient(bundle, exchange)["probation-spoc-north"]
    assert not north.permitted
    flows = bundle.index[("cheshire-police", "probation-spoc-north", "crime_record")]
    expired = next(f for f in flows if f.id == "police-crime-to-probation-spoc")
    today = exchange.submitted_at.date()
    assert expired.miss(exchange, today, "stalking-risk-management") == "expired on 2026-03-31"
    spring = crime_exchange(submitted_at="2026-03-01T09:00:00Z")
    assert by_recipient(bundle, spring)["probation-spoc-north"].permitted


def test_an_explicit_deny_beats_a_permit_that_also_applies(cheshire):
    """A child subject in an evaluation record: the permit applies, the deny wins."""
    from contracts import Exchange
    from gateway.policy.tools.suite import build_fixture, load_suite
    from tests.policy.conftest import CHESHIRE

    suite = load_suite(CHESHIRE / "tests" / "health.yaml")
    exchange = Exchange.model_validate(build_fixture("child-in-household", suite.fixtures))
    flows = cheshire.index[("cwp-mental-health", "hru-evaluation", "health_information")]
    permit = next(f for f in flows if f.id == "engagement-to-evaluation")
    today = exchange.submitted_at.date()
    assert permit.miss(exchange, today, "service-evaluation") is None  # it would permit
    decision = by_recipient(cheshire, exchange)["hru-evaluation"]
    assert decision.rules == ("children-never-to-evaluation",)
    assert not decision.permitted


def test_a_repeated_refusal_is_one_shared_decision_whose_records_are_copies(cheshire):
    """Most parties refuse most records for the same reason: the Decision (immutable)
    is built once and shared, and each caller still gets a record of its own."""
    first = by_recipient(cheshire, crime_exchange())["probation-spoc-east"]
    again = by_recipient(cheshire, crime_exchange(case_reference="HRU-2026-0999"))
    assert again["probation-spoc-east"] is first
    record = first.as_record()
    record["rules"].append("mutated by a caller")
    record["extra"] = True
    assert first.as_record()["rules"] == [DEFAULT_DENY] and "extra" not in first.as_record()
    other_purpose = by_recipient(cheshire, crime_exchange(purpose="marketing"))
    assert other_purpose["probation-spoc-east"] is not first
    assert other_purpose["probation-spoc-east"].purpose == "marketing"
