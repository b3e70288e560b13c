"""Minimisation: what crosses, in what form, and what the audit may say about it."""

from __future__ import annotations

import json

import pytest

from gateway.policy import decide, load_bundle, minimise, minimise_for
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
        "purposes",
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


def west_midlands_case(name: str):
    from contracts import Exchange
    from gateway.policy.tools.suite import build_fixture, load_suite
    from tests.policy.conftest import WEST_MIDLANDS

    suite = load_suite(WEST_MIDLANDS / "tests" / "screening-and-triage.yaml")
    return Exchange.model_validate(build_fixture(name, suite.fixtures))


def test_mask_keeps_only_the_last_characters():
    from tests.policy.conftest import WEST_MIDLANDS

    bundle = load_bundle(WEST_MIDLANDS)
    exchange = west_midlands_case("stalking-record")
    decision = permit(bundle, exchange, "easi-triage-clinic")
    out = minimise_for(decision, exchange.model_dump(mode="json"), KEY)
    assert out.record["subjects"][0]["identifiers"] == [{"system": "pnc_id", "value": "*******56B"}]


def test_drop_carves_a_field_out_of_a_wider_share():
    from tests.policy.conftest import WEST_MIDLANDS

    bundle = load_bundle(WEST_MIDLANDS)
    exchange = west_midlands_case("for-prosecution")
    out = minimise_for(
        permit(bundle, exchange, "cps-stalking-spoc"), exchange.model_dump(mode="json"), KEY
    )
    victim = out.record["subjects"][1]
    assert victim["address"]["postcode"] == "WS1 1AB"  # the rest of subjects[] crosses
    assert "safe_contact" not in victim
    assert "subjects[].safe_contact" in out.removed


def test_redact_says_a_value_exists_without_it(cheshire):
    from contracts import Exchange
    from gateway.policy.tools.suite import build_fixture, load_suite
    from tests.policy.conftest import CHESHIRE

    suite = load_suite(CHESHIRE / "tests" / "probation-mappa.yaml")
    exchange = Exchange.model_validate(build_fixture("restricted-compliance", suite.fixtures))
    out = minimise_for(
        permit(cheshire, exchange, "cheshire-police"), exchange.model_dump(mode="json"), KEY
    )
    assert out.record["subjects"][0]["access"] == {
        "level": "restricted",
        "named_staff": ["[redacted]"],
        "set_by": "probation-spoc-east",
    }


def test_free_text_does_not_cross_a_flow_naming_no_special_category_condition(tmp_path):
    """Lint warns, and the gateway drops it: free text may hold health details, so a
    flow without an Article 9 / Schedule 8 condition does not carry it whole."""
    from contracts import Exchange
    from tests.policy.helpers import ROOT, copy_agreement

    data = crime_exchange().model_dump(mode="json")
    data["payload"]["risk"]["rationale"] = "Mentions self-harm."
    exchange = Exchange.model_validate(data)
    as_written = load_bundle(ROOT / "policies" / "cheshire-hru")
    flows = copy_agreement(tmp_path) / "flows.yaml"
    text = flows.read_text()
    start = text.index("  - id: police-crime-to-forensic-psychology\n")
    condition = "    special_category_condition: dpa-part3-sensitive-processing\n"
    at = text.index(condition, start)
    flows.write_text(text[:at] + text[at + len(condition) :])
    without = load_bundle(flows.parent)

    def minimised(bundle):
        (decision,) = [d for d in decide(bundle, exchange) if d.recipient == "mersey-care-forensic"]
        assert decision.permitted
        return minimise_for(decision, exchange.model_dump(mode="json"))

    assert "payload.risk.rationale" in minimised(as_written).disclosed
    dropped = minimised(without)
    assert "payload.risk.rationale" not in dropped.disclosed
    assert "payload.risk.rationale" in dropped.removed
