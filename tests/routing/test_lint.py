"""Lint findings: what loads but would misroute."""

from __future__ import annotations

from gateway.routing.lint import lint
from tests.routing.conftest import CHESHIRE, WEST_MIDLANDS, write_routes


def findings(tmp_path, text: str) -> list[str]:
    routes, found = lint(write_routes(tmp_path, text))
    assert routes is not None, found
    return [str(f) for f in found]


def test_the_samples_lint_clean(cheshire_bundle):
    assert lint(CHESHIRE / "routes", cheshire_bundle)[1] == []
    assert lint(WEST_MIDLANDS / "routes")[1] == []


def test_every_finding_at_once(tmp_path):
    found = findings(
        tmp_path,
        """
        calendars:
          - id: office
            hours: {monday-friday: "08:00-16:00"}
          - id: never
            closures: [2026-12-24]
        desks:
          - {id: team, party: p, name: Team, staff: [a@example.org]}
          - {id: boss, party: p, name: Boss}
          - {id: spare, party: p, name: Spare, staff: [b@example.org]}
          - {id: night, party: q, name: Night desk, staff: [c@example.org]}
        routes:
          - id: any
            party: p
            calendar: office
            in_hours:
              desk: team
              escalation: [{desk: boss}, {desk: team}]
          - id: routine-only
            party: p
            urgency: [routine]
            in_hours: {desk: team}
          - id: weekday-night
            party: q
            urgency: [immediate]
            calendar: office
            in_hours: {desk: night}
            out_of_hours: {desk: night}
        """,
    )
    assert found == [
        "routes.yaml:19: error: route 'routine-only' can never match: route 'any' "
        "(routes.yaml:13) comes first and always matches when it would",
        "routes.yaml:13: error: route 'any': the in_hours chain escalates to team again: "
        "an escalation goes to someone else",
        "routes.yaml:13: error: route 'any' takes immediate, urgent copies for p but has no "
        "out_of_hours fallback: out of hours they would wait for office to open",
        "routes.yaml:23: warning: route 'weekday-night': the out-of-hours desk 'night' is "
        "not always_open (a 24/7 function)",
        "routes.yaml:9: warning: desk 'boss' has no staff: nobody can acknowledge",
        "routes.yaml:10: warning: desk 'spare' is on no route",
        "routes.yaml:5: error: calendar 'never' has no hours: it is never open",
        "routes.yaml:5: warning: calendar 'never' is used by no route",
    ]


def test_a_narrower_route_first_leaves_the_wider_reachable(tmp_path):
    found = findings(
        tmp_path,
        """
        desks:
          - {id: a, party: p, name: A, staff: [a@example.org]}
          - {id: b, party: p, name: B, staff: [b@example.org]}
        routes:
          - {id: north, party: p, pdus: [North], in_hours: {desk: a}}
          - {id: rest, party: p, in_hours: {desk: b}}
          - {id: north-again, party: p, pdus: [north], urgency: [urgent], in_hours: {desk: b}}
        """,
    )
    assert found == [
        "routes.yaml:8: error: route 'north-again' can never match: route 'north' "
        "(routes.yaml:6) comes first and always matches when it would"
    ]


def test_an_urgent_route_caught_earlier_needs_no_fallback_and_always_open_is_enough(tmp_path):
    found = findings(
        tmp_path,
        """
        calendars:
          - id: office
            hours: {monday-friday: "08:00-16:00"}
        desks:
          - {id: a, party: p, name: A, staff: [a@example.org], always_open: true}
          - {id: b, party: q, name: B, staff: [b@example.org]}
          - {id: c, party: q, name: C, staff: [c@example.org], always_open: true}
        routes:
          - {id: p-any, party: p, calendar: office, in_hours: {desk: a}}
          - id: q-urgent
            party: q
            urgency: [urgent, immediate]
            calendar: office
            in_hours: {desk: b}
            out_of_hours: {desk: c}
          - {id: q-rest, party: q, calendar: office, in_hours: {desk: b}}
        """,
    )
    assert found == []


def test_a_load_error_is_a_finding_with_its_line(tmp_path):
    routes, found = lint(write_routes(tmp_path, "routes:\n  - id: r\n    party: p\n"))
    assert routes is None
    assert [str(f) for f in found] == [
        "routes.yaml:2: error: routes[0].in_hours: required field is missing"
    ]
