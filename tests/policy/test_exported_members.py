"""The pipeline's interface to policy is pinned: a change here is a change for the lead."""

from __future__ import annotations

import gateway.policy


def test_public_surface():
    assert gateway.policy.__all__ == [
        "Decision",
        "LivePolicy",
        "Minimised",
        "PolicyBundle",
        "PseudonymKeyMissing",
        "decide",
        "load_bundle",
        "minimise",
        "minimise_for",
    ]
    for name in gateway.policy.__all__:
        assert getattr(gateway.policy, name).__module__.startswith("gateway.policy")


def test_decision_record_keys_are_stable(cheshire):
    from tests.policy.conftest import crime_exchange

    record = gateway.policy.decide(cheshire, crime_exchange())[0].as_record()
    assert list(record) == [
        "recipient",
        "effect",
        "rules",
        "reason",
        "purpose",
        "lawful_basis",
        "special_category_condition",
        "consent",
        "justification",
        "conditions",
        "obligations",
        "policy_version",
        "agreement_version",
    ]
