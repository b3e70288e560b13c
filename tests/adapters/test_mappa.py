"""MAPPA adapter: categories 1-4, levels 1-3, meeting outcomes and bad input."""

from __future__ import annotations

import json

import pytest

from contracts import Category
from gateway.errors import InvalidRecord, MalformedBody
from tests.adapters.helpers import EXAMPLES, parse

LEVEL_CHANGE = json.loads((EXAMPLES / "mappa" / "level-change.json").read_text())
MEETING = json.loads((EXAMPLES / "mappa" / "meeting-outcome.json").read_text())


def _copy(value: dict) -> dict:
    return json.loads(json.dumps(value))


def _fields(body) -> list[tuple]:
    with pytest.raises(InvalidRecord) as caught:
        parse("mappa", body)
    return [(p.record, p.field) for p in caught.value.problems]


def test_malformed_json_is_refused():
    with pytest.raises(MalformedBody):
        parse("mappa", b"{")


def test_a_level_change_keeps_the_previous_level():
    (exchange,) = parse("mappa", LEVEL_CHANGE).items
    mappa = exchange.payload.mappa
    assert exchange.category == Category.OFFENDER_MANAGEMENT
    assert (mappa.previous_level, mappa.level, mappa.category) == (1, 2, 2)


def test_a_meeting_outcome_is_a_meeting_feed():
    (exchange,) = parse("mappa", MEETING).items
    assert exchange.category == Category.MEETING_FEED
    assert exchange.payload.meeting.forum == "mappa"
    assert len(exchange.payload.meeting.actions) == 3


@pytest.mark.parametrize(("field", "value"), [("category", 5), ("category", 0), ("level", 4)])
def test_category_and_level_bounds(field, value):
    note = _copy(LEVEL_CHANGE)
    note[field] = value
    assert _fields(note) == [(None, field)]


def test_the_offender_must_be_identified():
    note = _copy(LEVEL_CHANGE)
    note["offender"] = {"forename": "Daniel", "surname": "Marsh"}
    assert _fields(note) == [(None, "offender")]


def test_a_meeting_outcome_needs_its_meeting():
    note = _copy(MEETING)
    del note["meeting"]
    assert _fields(note) == [(None, "meeting")]


def test_a_bad_crn_is_refused():
    note = _copy(LEVEL_CHANGE)
    note["offender"]["crn"] = "X12"
    assert _fields(note) == [(None, "offender.crn")]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"category": 3, "level": 1}, "MAPPA category 3 is managed at level 2 or 3"),
        ({"previous": {"category": 3, "level": 1}}, "previous MAPPA category 3"),
    ],
)
def test_what_mappa_guidance_makes_impossible_is_refused(change, message):
    """Category 3 offenders are managed at level 2 or 3: a record saying level 1 is
    a 422 with the reason, whatever the format carried it."""
    note = {**_copy(LEVEL_CHANGE), **change}
    with pytest.raises(InvalidRecord) as caught:
        parse("mappa", note)
    assert any(message in p.message for p in caught.value.problems), caught.value.problems


def test_category_3_at_level_2_is_fine():
    note = {**_copy(LEVEL_CHANGE), "category": 3, "level": 2}
    (exchange,) = parse("mappa", note).items
    assert (exchange.payload.mappa.category, exchange.payload.mappa.level) == (3, 2)
