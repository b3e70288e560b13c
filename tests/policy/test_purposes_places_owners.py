"""The language of issue 16: several purposes per record, the sender's registration,
routing by PDU, unrouted records, and meeting actions delivered to their owners."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from contracts import Exchange
from gateway.errors import InvalidRecord
from gateway.pipeline.flow import UNROUTED_NOTICE, Accepted
from gateway.pipeline.validate import validate
from gateway.policy import PolicyBundle, decide, load_bundle, minimise_for
from gateway.policy.engine import DEFAULT_DENY, UNROUTED
from tests.policy.conftest import crime_exchange

AGREEMENT = """\
agreement: {id: small, title: A small agreement, version: "1"}
parties:
  - {id: police, name: Police, kind: police, aliases: [The Police]}
  - id: probation-north
    name: Probation North SPOC
    kind: probation-spoc
    pdu: North
    areas: [Warrington]
    aliases: [Probation North, NPS North]
  - {id: probation-east, name: Probation East SPOC, kind: probation-spoc, pdu: East}
  - {id: advocates, name: Victim advocates, kind: victim-advocate}
  - id: marac
    name: MARAC coordinator
    kind: marac
    registration:
      purposes: {meeting_feed: [marac-risk-assessment]}
  - id: forensic
    name: Forensic psychology
    kind: nhs-trust
    registration: {patient_role: perpetrator}
purposes:
  - {id: risk, description: Managing the perpetrator's risk}
  - {id: safety, description: Keeping the victim safe}
  - {id: marac-risk-assessment, description: MARAC action planning}
lawful_bases:
  - {id: le, citation: DPA 2018 Part 3}
  - {id: s35, citation: DPA 2018 s35, special_category: true}
flows:
  - id: crime-to-probation-by-pdu
    from: police
    to: [probation-north, probation-east]
    categories: [crime_record]
    purposes: [risk]
    lawful_basis: le
    when: [{field: "subjects[].probation_pdu", roles: [suspect], is_recipient_pdu: true}]
    fields: ["subjects[].ref", payload.crime.occurrence_number]
  - id: crime-to-probation-by-address
    from: police
    to: [probation-north, probation-east]
    categories: [crime_record]
    purposes: [risk]
    lawful_basis: le
    when:
      - field: subjects[].address.local_authority
        roles: [suspect]
        in_recipient_areas: true
    fields: ["subjects[].ref", payload.crime.occurrence_number]
  - id: no-crime-to-advocates-for-risk
    effect: deny
    from: police
    to: [advocates]
    categories: [crime_record]
    purposes: [risk]
  - id: crime-to-advocates
    from: police
    to: [advocates]
    categories: [crime_record]
    purposes: [risk, safety]
    lawful_basis: le
    fields: ["subjects[].ref", payload.crime.occurrence_number]
  - id: actions-to-owners
    from: marac
    to: [police, probation-north, probation-east, advocates]
    categories: [meeting_feed]
    purposes: [marac-risk-assessment]
    lawful_basis: le
    special_category_condition: s35
    to_owners: {items: payload.meeting.actions}
    fields: [payload.meeting.meeting_id, payload.meeting.actions]
  - id: forensic-perpetrator-health-to-police
    from: forensic
    to: [police]
    categories: [health_information]
    purposes: [risk]
    lawful_basis: le
    special_category_condition: s35
    when: [{field: "subjects[].role", equals: perpetrator}]
    fields: ["subjects[].ref", payload.health.engagement]
"""


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> PolicyBundle:
    directory: Path = tmp_path_factory.mktemp("small")
    (directory / "agreement.yaml").write_text(AGREEMENT)
    return load_bundle(directory)


def record(**changes: object) -> Exchange:
    data: dict[str, object] = {
        "exchange_id": "0b7e2c1a-3f4d-4e5f-8a9b-1c2d3e4f5a6b",
        "source_partner": "police",
        "submitted_at": "2026-11-20T15:00:00Z",
        "category": "crime_record",
        "purposes": ["risk", "safety"],
        "subjects": [
            {
                "ref": "S1",
                "role": "suspect",
                "address": {"local_authority": "Warrington"},
            }
        ],
        "payload": {"crime": {"occurrence_number": "OC-1", "offence": {"code": "8Q"}}},
    }
    data.update(changes)
    return Exchange.model_validate(data)


def decisions(bundle: PolicyBundle, exchange: Exchange) -> dict[str, object]:
    validate(exchange, bundle)
    return {d.recipient: d for d in decide(bundle, exchange)}


# --- several purposes ------------------------------------------------------------


def test_one_record_reaches_each_recipient_under_its_own_purpose(small):
    got = decisions(small, record())
    assert got["probation-north"].permitted and got["probation-north"].purpose == "risk"
    # advocates: the deny names only "risk", so the record reaches them for safety
    assert got["advocates"].permitted and got["advocates"].purpose == "safety"
    assert got["advocates"].rules == ("crime-to-advocates",)
    assert got["advocates"].as_record()["purpose"] == "safety"


def test_a_deny_for_one_purpose_still_refuses_a_record_declared_only_for_it(small):
    got = decisions(small, record(purposes=["risk"]))
    assert not got["advocates"].permitted
    assert got["advocates"].rules == ("no-crime-to-advocates-for-risk",)


def test_each_copy_names_only_the_purpose_it_was_permitted_under(small):
    exchange = record()
    got = decisions(small, exchange)
    copy = minimise_for(got["advocates"], exchange.model_dump(mode="json"))
    assert copy.record["purpose"] == "safety"
    assert copy.record["purposes"] == ["safety"]


def test_purpose_and_purposes_are_one_list():
    both = record(purpose="safety", purposes=["risk"])
    assert both.purposes == ["safety", "risk"]
    assert both.purpose == "safety"
    alone = record(purposes=[], purpose="risk")
    assert alone.purposes == ["risk"]
    with pytest.raises(ValidationError, match="declared twice"):
        record(purposes=["risk", "risk"])


def test_a_record_without_purpose_takes_the_senders_registered_defaults(small):
    feed = Exchange.model_validate(
        {
            "exchange_id": "0b7e2c1a-3f4d-4e5f-8a9b-1c2d3e4f5a60",
            "source_partner": "marac",
            "submitted_at": "2026-11-20T15:00:00Z",
            "category": "meeting_feed",
            "subjects": [{"ref": "S1", "role": "perpetrator"}],
            "payload": {
                "meeting": {
                    "forum": "marac",
                    "meeting_id": "M-1",
                    "held_on": "2026-11-19",
                    "actions": [
                        {"action_id": "A1", "owner": "NPS North", "description": "Home visit"}
                    ],
                }
            },
        }
    )
    assert feed.purposes == []
    validate(feed, small)
    assert feed.purposes == ["marac-risk-assessment"]


def test_a_record_without_purpose_and_no_default_is_refused_plainly(small):
    exchange = record(purposes=[])
    with pytest.raises(InvalidRecord) as refused:
        validate(exchange, small)
    [problem] = refused.value.problems
    assert problem.field == "purposes"
    assert "declares no purpose" in problem.message and "risk" in problem.message


def test_an_unknown_purpose_is_named_by_its_place_in_the_list(small):
    with pytest.raises(InvalidRecord) as refused:
        validate(record(purposes=["risk", "marketing"]), small)
    assert [p.field for p in refused.value.problems] == ["purposes[1]"]


# --- roles from the registration -------------------------------------------------


def test_a_patient_takes_the_role_the_sender_registered(small):
    health = Exchange.model_validate(
        {
            "exchange_id": "0b7e2c1a-3f4d-4e5f-8a9b-1c2d3e4f5a61",
            "source_partner": "forensic",
            "submitted_at": "2026-11-20T15:00:00Z",
            "category": "health_information",
            "purposes": ["risk"],
            "subjects": [{"ref": "P1", "role": "patient"}],
            "payload": {"health": {"engagement": "engaged"}},
        }
    )
    got = decisions(small, health)
    assert health.subjects[0].role == "perpetrator"
    assert got["police"].permitted


# --- routing by PDU, and unrouted records ----------------------------------------


def test_the_probation_case_records_pdu_routes_before_the_address(small):
    exchange = record()
    exchange.subjects[0].probation_pdu = "east"  # managed by East though living in Warrington
    got = decisions(small, exchange)
    assert got["probation-east"].permitted
    assert got["probation-east"].rules == ("crime-to-probation-by-pdu",)
    assert got["probation-north"].rules == ("crime-to-probation-by-address",)


def test_a_suspect_of_no_fixed_abode_is_flagged_unrouted(small):
    exchange = record(
        subjects=[{"ref": "S1", "role": "suspect", "address": {"no_fixed_abode": True}}]
    )
    got = decisions(small, exchange)
    north = got["probation-north"]
    assert not north.permitted and north.unrouted
    assert north.rules == (UNROUTED, "crime-to-probation-by-pdu")
    assert "no fixed abode" in north.reason
    answer = Accepted(str(exchange.exchange_id), list(got.values())).as_dict()
    assert answer["unrouted"] == ["probation-north", "probation-east"]
    assert UNROUTED_NOTICE in answer["notice"]
    assert answer["recipients"] == ["advocates"]
    assert [d["purpose"] for d in answer["decisions"] if d["effect"] == "permit"] == ["safety"]


def test_a_record_that_fails_for_another_reason_is_not_unrouted(small):
    exchange = record(purposes=["safety"], subjects=[{"ref": "S1", "role": "suspect"}])
    north = decisions(small, exchange)["probation-north"]
    assert north.rules == (DEFAULT_DENY,)
    assert not north.unrouted


def test_a_suspect_outside_every_pdu_is_refused_not_unrouted(small):
    exchange = record(
        subjects=[{"ref": "S1", "role": "suspect", "address": {"local_authority": "Leeds"}}]
    )
    assert decisions(small, exchange)["probation-north"].rules == (DEFAULT_DENY,)


# --- meeting actions reach their owners -------------------------------------------


def feed(*owners: str) -> Exchange:
    return Exchange.model_validate(
        {
            "exchange_id": "0b7e2c1a-3f4d-4e5f-8a9b-1c2d3e4f5a62",
            "source_partner": "marac",
            "submitted_at": "2026-11-20T15:00:00Z",
            "category": "meeting_feed",
            "subjects": [{"ref": "S1", "role": "perpetrator"}],
            "payload": {
                "meeting": {
                    "forum": "marac",
                    "meeting_id": "M-1",
                    "held_on": "2026-11-19",
                    "actions": [
                        {"action_id": f"A{i}", "owner": owner, "description": f"Action {i}"}
                        for i, owner in enumerate(owners, 1)
                    ],
                }
            },
        }
    )


def test_each_owner_receives_only_its_own_actions(small):
    exchange = feed("probation north", "police", "The Police")
    got = decisions(small, exchange)
    record_json = exchange.model_dump(mode="json")
    north = minimise_for(got["probation-north"], record_json).record
    police = minimise_for(got["police"], record_json).record
    assert [a["action_id"] for a in north["payload"]["meeting"]["actions"]] == ["A1"]
    assert [a["action_id"] for a in police["payload"]["meeting"]["actions"]] == ["A2", "A3"]
    # the record itself is untouched: every copy was cut from it
    assert len(record_json["payload"]["meeting"]["actions"]) == 3


def test_a_party_that_owns_no_action_receives_nothing(small):
    got = decisions(small, feed("Probation North"))
    assert not got["probation-east"].permitted
    assert not got["advocates"].permitted
    assert "owner" in got["advocates"].reason


def test_owners_must_be_a_known_field(tmp_path):
    from gateway.errors import PolicyLoadError

    (tmp_path / "agreement.yaml").write_text(
        AGREEMENT.replace("{items: payload.meeting.actions}", "{items: payload.meeting.acts}")
    )
    with pytest.raises(PolicyLoadError) as failed:
        load_bundle(tmp_path)
    assert any("payload.meeting.acts" in p.message for p in failed.value.problems or [])


def test_registration_purposes_must_be_declared(tmp_path):
    from gateway.errors import PolicyLoadError

    (tmp_path / "agreement.yaml").write_text(
        AGREEMENT.replace("{meeting_feed: [marac-risk-assessment]}", "{meeting_feed: [gossip]}")
    )
    with pytest.raises(PolicyLoadError) as failed:
        load_bundle(tmp_path)
    assert any("gossip" in p.message for p in failed.value.problems or [])


def test_explain_names_every_declared_purpose(small):
    from gateway.policy.tools.explain import explain

    text = explain(small, record(), ["advocates"])
    assert "for risk, safety" in textwrap.dedent(text).splitlines()[0]
    assert "advocates: PERMIT by crime-to-advocates for safety" in text


def test_the_sample_crime_record_reaches_probation_and_advocates_at_once(cheshire):
    exchange = crime_exchange(purposes=["stalking-risk-management", "victim-safeguarding"])
    got = {d.recipient: d for d in decide(cheshire, exchange)}
    assert got["probation-spoc-north"].purpose == "stalking-risk-management"
    assert got["victim-advocates"].permitted
    assert got["victim-advocates"].purpose in {"victim-safeguarding", "stalking-risk-management"}


def test_a_record_with_an_address_is_never_unrouted_whatever_else_refuses_it(tmp_path):
    """The address flow has expired and the record names no PDU: refused, but the
    record said where the suspect lives, so it is not flagged for routing by hand."""
    expired = AGREEMENT.replace(
        "  - id: crime-to-probation-by-address\n",
        "  - id: crime-to-probation-by-address\n    valid_until: 2026-01-01\n",
    )
    (tmp_path / "agreement.yaml").write_text(expired)
    bundle = load_bundle(tmp_path)
    north = decisions(bundle, record(purposes=["risk"]))["probation-north"]
    assert north.rules == (DEFAULT_DENY,)
    assert not north.unrouted


def test_lint_knows_an_owners_flow_does_not_always_win(tmp_path):
    """A fallback after a to_owners flow decides for the parties that own nothing."""
    from gateway.policy.tools.lint import lint

    fallback = """
  - id: meeting-outcome-to-police
    from: marac
    to: [police]
    categories: [meeting_feed]
    purposes: [marac-risk-assessment]
    lawful_basis: le
    fields: [payload.meeting.meeting_id]
"""
    (tmp_path / "agreement.yaml").write_text(AGREEMENT + fallback)
    findings = [f.message for f in lint(tmp_path).findings]
    assert not [m for m in findings if "always wins" in m], findings
    police = decisions(load_bundle(tmp_path), feed("Probation North"))["police"]
    assert police.rules == ("meeting-outcome-to-police",)


def test_a_perpetrator_facing_service_gets_no_address_but_the_perpetrators(cheshire):
    """A child's address is usually the victim's: it is held back like hers."""
    data = crime_exchange().model_dump(mode="json")
    data["subjects"].append(
        {"ref": "C1", "role": "child", "address": {"postcode": "WA7 2BB", "town": "Runcorn"}}
    )
    exchange = Exchange.model_validate(data)
    forensic = {d.recipient: d for d in decide(cheshire, exchange)}["mersey-care-forensic"]
    assert forensic.permitted
    copy = minimise_for(forensic, exchange.model_dump(mode="json")).record
    addresses = {s["ref"]: s.get("address") for s in copy["subjects"]}
    assert addresses == {
        "P1": {"lines": [], "postcode": "WA1 1AA", "local_authority": "Warrington"},
        "V1": None,
        "C1": None,
    }


def test_a_safety_net_to_an_unknown_party_does_not_load(tmp_path):
    from gateway.errors import PolicyLoadError

    net = (
        '\nagreement: {id: small, title: A small agreement, version: "1", safety_net: '
        '{to: control-room, purpose: risk, lawful_basis: le, fields: ["subjects[].ref"]}}\n'
    )
    text = AGREEMENT.replace(
        'agreement: {id: small, title: A small agreement, version: "1"}\n', net
    )
    (tmp_path / "agreement.yaml").write_text(text)
    with pytest.raises(PolicyLoadError) as failed:
        load_bundle(tmp_path)
    assert any("control-room" in p.message for p in failed.value.problems or [])
