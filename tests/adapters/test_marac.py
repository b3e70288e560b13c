"""MARAC adapter: the DASH threshold, consent, people, and meeting feeds."""

from __future__ import annotations

import json

import pytest

from adapters.base import MAX_BATCH_ROWS, BatchTooLarge
from contracts import Category, Mark, SubjectRole, marked_paths
from contracts.v1 import Exchange
from gateway.errors import InvalidRecord, MalformedBody
from tests.adapters.helpers import EXAMPLES, parse

REFERRAL = json.loads((EXAMPLES / "marac" / "referral-visible-high-risk.json").read_text())
NO_CONSENT = json.loads((EXAMPLES / "marac" / "referral-without-consent.json").read_text())
MEETING = json.loads((EXAMPLES / "marac" / "meeting-feed.json").read_text())


def _copy(value: dict) -> dict:
    return json.loads(json.dumps(value))


def _fields(body) -> list[tuple]:
    with pytest.raises(InvalidRecord) as caught:
        parse("marac", body)
    return [(p.record, p.field) for p in caught.value.problems]


def test_malformed_json_is_refused():
    with pytest.raises(MalformedBody):
        parse("marac", b'{"kind": "referral"')


def test_a_referral_at_14_ticks_or_more_is_visible_high_risk():
    (exchange,) = parse("marac", REFERRAL).items
    referral = exchange.payload.referral
    assert exchange.category == Category.REFERRAL
    assert referral.dash.ticks == 15 and referral.high_risk is True
    assert referral.grounds == ["visible_high_risk"]
    assert (exchange.payload.risk.tool, exchange.payload.risk.level) == ("DASH", "high")
    roles = [s.role for s in exchange.subjects]
    assert roles == [
        SubjectRole.VICTIM,
        SubjectRole.PERPETRATOR,
        SubjectRole.CHILD,
        SubjectRole.CHILD,
    ]


def test_professional_judgement_below_14_ticks_is_accepted_with_its_justification():
    (exchange,) = parse("marac", NO_CONSENT).items
    referral = exchange.payload.referral
    assert referral.dash.ticks == 9 and referral.high_risk is True
    assert referral.consent.status == "refused"
    assert "firearms" in referral.consent.justification


def test_victim_location_lands_in_marked_fields():
    (exchange,) = parse("marac", REFERRAL).items
    victim = exchange.subjects[0]
    assert victim.address.postcode == "WA7 4QP" and victim.safe_contact
    assert marked_paths(Exchange, Mark.VICTIM_LOCATION) == {
        "subjects[].address",
        "subjects[].safe_contact",
    }


def test_below_the_threshold_is_refused():
    referral = _copy(NO_CONSENT)
    referral["referral"]["grounds"] = []
    assert _fields(referral) == [(None, "referral.grounds")]


def test_visible_high_risk_needs_14_ticks():
    referral = _copy(NO_CONSENT)
    referral["referral"]["grounds"] = ["visible_high_risk"]
    assert _fields(referral) == [(None, "referral.grounds"), (None, "referral.grounds")]


def test_dash_total_must_match_the_answers():
    referral = _copy(REFERRAL)
    referral["dash"]["total"] = 14
    assert _fields(referral) == [(None, "dash.total")]


def test_dash_has_24_answers():
    referral = _copy(REFERRAL)
    referral["dash"]["answers"] = referral["dash"]["answers"][:23]
    assert _fields(referral) == [(None, "dash.answers")]


def test_sharing_without_consent_needs_a_justification():
    referral = _copy(NO_CONSENT)
    del referral["consent"]["justification"]
    assert _fields(referral) == [(None, "consent.justification")]


def test_wrong_nhs_check_digit():
    referral = _copy(REFERRAL)
    referral["victim"]["nhs_number"] = "9990001031"
    assert _fields(referral) == [(None, "victim.nhs_number")]


def test_a_perpetrator_must_be_identifiable():
    referral = _copy(NO_CONSENT)
    del referral["perpetrator"]["dob"]
    assert _fields(referral) == [(None, "perpetrator")]


def test_a_meeting_feed_is_one_exchange_per_case():
    items = parse("marac", MEETING).items
    assert [i.case_reference for i in items] == ["MARAC-HAL-2026-0311", "MARAC-HAL-2026-0298"]
    assert all(i.category == Category.MEETING_FEED for i in items)
    assert items[0].payload.meeting.actions[0].owner == "Cheshire Constabulary"


def test_a_bad_case_in_a_meeting_feed_fails_alone():
    meeting = _copy(MEETING)
    meeting["cases"][1]["victim"]["nhs_number"] = "1234567890"
    parsed = parse("marac", meeting)
    assert parsed.batch is True
    good, bad = parsed.items
    assert good.case_reference == "MARAC-HAL-2026-0311"
    assert isinstance(bad, InvalidRecord)
    assert [(p.record, p.field) for p in bad.problems] == [(1, "cases[1].victim.nhs_number")]


def test_a_malformed_case_names_the_case_and_field():
    meeting = _copy(MEETING)
    del meeting["cases"][0]["victim"]["ref"]
    first, second = parse("marac", meeting).items
    assert [(p.record, p.field) for p in first.problems] == [(0, "cases[0].victim.ref")]
    assert second.case_reference == "MARAC-HAL-2026-0298"


def test_unknown_kind_is_refused():
    assert _fields({"format": "marac/1", "kind": "minutes"}) == [(None, "kind")]


def test_an_oversized_meeting_feed_is_refused_whole():
    meeting = _copy(MEETING)
    meeting["cases"] = meeting["cases"][:1] * (MAX_BATCH_ROWS + 1)
    with pytest.raises(BatchTooLarge):
        parse("marac", meeting)
