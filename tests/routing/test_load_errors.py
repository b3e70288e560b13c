"""What refuses to load names the file, the line and what was expected."""

from __future__ import annotations

import pytest

from gateway.errors import PolicyLoadError
from gateway.routing import load_routes
from tests.routing.conftest import write_routes

GOOD_HEAD = """
calendars:
  - id: office
    hours:
      monday-friday: "08:00-16:00"
desks:
  - id: team
    party: cheshire-police
    name: Team
    staff: [a@example.org]
"""


def problems(tmp_path, text: str, bundle=None) -> list[str]:
    with pytest.raises(PolicyLoadError) as caught:
        load_routes(write_routes(tmp_path, text), bundle)
    return [f"{p.record}: {p.field}: {p.message}" for p in caught.value.problems]


def test_an_unknown_weekday_names_its_line(tmp_path):
    found = problems(
        tmp_path,
        """
        calendars:
          - id: office
            hours:
              monday-fryday: "08:00-16:00"
        """,
    )
    assert found == [
        "routes.yaml:5: calendars[0].hours.monday-fryday: unknown weekday 'fryday'; "
        "expected one of monday, tuesday, wednesday, thursday, friday, saturday, sunday"
    ]


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ('"08:00-25:00"', "is not a time range like 08:00-16:00"),
        ('"16:00-08:00"', "ends before it starts"),
        ("16:00", "YAML reads a bare 16:00 as the number 960"),
    ],
)
def test_bad_times(tmp_path, hours, message):
    found = problems(
        tmp_path,
        f"""
        calendars:
          - id: office
            hours:
              monday: {hours}
        """,
    )
    assert len(found) == 1 and found[0].startswith("routes.yaml:5: calendars[0].hours")
    assert message in found[0]


def test_unknown_desk_party_calendar_and_zone(tmp_path, cheshire_bundle):
    found = problems(
        tmp_path,
        GOOD_HEAD
        + """
timezone: Europe/Londn
routes:
  - id: r
    party: cheshire-polce
    calendar: offfice
    in_hours:
      desk: tema
  - id: s
    party: cheshire-police
    in_hours:
      desk: team
      escalation:
        - desk: nobody
""",
        cheshire_bundle,
    )
    text = "\n".join(found)
    assert "routes.yaml:12: timezone: unknown time zone 'Europe/Londn'" in text
    assert "routes.yaml:15: routes[0].party: unknown party 'cheshire-polce'" in text
    assert "routes.yaml:16: routes[0].calendar: unknown calendar 'offfice'" in text
    assert "routes.yaml:18: routes[0].in_hours.desk: unknown desk 'tema'" in text
    assert "routes.yaml:24: routes[1].in_hours.escalation[0].desk: unknown desk 'nobody'" in text


def test_a_desk_of_another_party_needs_saying_so(tmp_path, cheshire_bundle):
    text = (
        GOOD_HEAD
        + """
routes:
  - id: r
    party: cheshire-police
    calendar: office
    in_hours: {desk: team}
    out_of_hours: {desk: cheshire-control-room}
"""
    )
    found = problems(tmp_path, text, cheshire_bundle)
    assert len(found) == 1
    assert found[0].startswith("routes.yaml:17: routes[0].out_of_hours.desk: desk ")
    assert (
        "belongs to cheshire-control-room, but the policy permitted only cheshire-police"
        in (found[0])
    )
    assert "fallback_party_ok: true" in found[0]
    allowed = load_routes(
        write_routes(tmp_path, text + "    fallback_party_ok: true\n"), cheshire_bundle
    )
    assert [r.id for r in allowed.routes] == ["r"]


def test_schema_errors_name_the_line(tmp_path):
    found = problems(
        tmp_path,
        """
        routes:
          - id: r
            party: p
            in_hours: {desk: p, acknowledge_within: 15 minuets}
            out_of_hours: {desk: p}
            colour: red
        """,
    )
    text = "\n".join(found)
    assert "routes.yaml:5: routes[0].in_hours.acknowledge_within: expected text matching" in text
    assert "routes.yaml:7: routes[0].colour: unknown field" in text


def test_out_of_hours_needs_a_calendar(tmp_path):
    found = problems(
        tmp_path,
        """
        routes:
          - id: r
            party: p
            in_hours: {desk: p}
            out_of_hours: {desk: p}
        """,
    )
    assert found == [
        "routes.yaml:3: routes[0]: Value error, out_of_hours needs a calendar saying when "
        "the hours are (got {'id': 'r', 'party': 'p', 'in_hours': {'desk': 'p'}, "
        "'out_of_hours': {'desk': 'p'}})"
    ]


def test_duplicate_ids_and_a_party_id_used_for_another_partys_desk(tmp_path, cheshire_bundle):
    found = problems(
        tmp_path,
        GOOD_HEAD
        + """
  - id: team
    party: cheshire-police
    name: Again
  - id: cheshire-marac
    party: cheshire-police
    name: Not the MARAC
""",
        cheshire_bundle,
    )
    assert found[0] == "routes.yaml:12: desks[1]: 'team' is declared twice (first at routes.yaml:7)"
    assert "is the id of the party's default desk" in found[1]


def test_a_closure_that_ends_before_it_starts(tmp_path):
    found = problems(
        tmp_path,
        """
        calendars:
          - id: office
            hours: {monday: "08:00-16:00"}
            closures:
              - {from: 2026-09-14, to: 2026-09-01}
        """,
    )
    assert found == ["routes.yaml:6: calendars[0].closures[0].to: to is before from"]
