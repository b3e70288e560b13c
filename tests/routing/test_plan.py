"""Planning against the sample Cheshire routes: hours, holidays, the clocks, chains."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from gateway.routing import RoutePlan, Routes, Step, load_routes
from tests.routing.conftest import alert, write_routes

BST = timezone(timedelta(hours=1))
MIN15 = timedelta(minutes=15)


def first(plan: RoutePlan) -> str:
    return plan.steps[0].desk


def test_in_hours_goes_to_the_duty_ds_with_the_chain_in_order(cheshire: Routes):
    plan = cheshire.plan("cheshire-police", alert(), datetime(2026, 6, 2, 10, tzinfo=BST), MIN15)
    assert plan.route == "police-urgent" and plan.in_hours is True
    assert plan.steps == (
        Step(
            "hru-duty",
            "cheshire-police",
            MIN15,
            "in hours (hru-office open Tue 08:00-16:00)",
        ),
        Step("hru-inspector", "cheshire-police", MIN15, "escalation step 2"),
        Step(
            "control-room-inspector",
            "cheshire-control-room",
            timedelta(minutes=10),
            "escalation step 3",
        ),
    )


def test_out_of_hours_goes_to_the_control_room(cheshire: Routes):
    plan = cheshire.plan("cheshire-police", alert(), datetime(2026, 6, 2, 16, 0, tzinfo=BST))
    assert plan.in_hours is False
    assert [s.desk for s in plan.steps] == ["control-room", "control-room-inspector"]
    assert plan.steps[0].party == "cheshire-control-room"
    assert plan.steps[0].why.startswith("out of hours fallback (hru-office Tue 02 Jun 16:00 BST")


def test_one_minute_before_closing_is_in_hours(cheshire: Routes):
    plan = cheshire.plan("cheshire-police", alert(), datetime(2026, 6, 2, 15, 59, tzinfo=BST))
    assert plan.in_hours is True and first(plan) == "hru-duty"


@pytest.mark.parametrize(
    ("day", "reason"),
    [((2026, 12, 25), "Christmas Day"), ((2026, 12, 28), "Boxing Day (observed)")],
)
def test_bank_holidays_are_out_of_hours(cheshire: Routes, day, reason):
    at = datetime(*day, 10, 0, tzinfo=UTC)
    plan = cheshire.plan("cheshire-police", alert(), at)
    assert plan.in_hours is False and first(plan) == "control-room"
    assert any(reason in line for line in plan.why)


def test_a_normal_monday_in_december_is_in_hours(cheshire: Routes):
    plan = cheshire.plan("cheshire-police", alert(), datetime(2026, 12, 21, 10, tzinfo=UTC))
    assert plan.in_hours is True


def test_a_local_closure_is_out_of_hours(cheshire: Routes):
    plan = cheshire.plan("cheshire-police", alert(), datetime(2026, 9, 14, 10, tzinfo=BST))
    assert plan.in_hours is False
    assert any("HRU team training day" in line for line in plan.why)
    assert cheshire.plan("cheshire-police", alert(), datetime(2026, 9, 15, 10, tzinfo=BST)).in_hours


def test_the_clocks_going_forward(cheshire: Routes):
    """07:30 UTC is 07:30 GMT on Friday 27 March, 08:30 BST on Monday 30 March."""
    before = cheshire.plan("cheshire-police", alert(), datetime(2026, 3, 27, 7, 30, tzinfo=UTC))
    after = cheshire.plan("cheshire-police", alert(), datetime(2026, 3, 30, 7, 30, tzinfo=UTC))
    assert before.in_hours is False
    assert after.in_hours is True and first(after) == "hru-duty"


def test_the_clocks_going_back(cheshire: Routes):
    """07:30 UTC is 08:30 BST on Friday 23 October, 07:30 GMT on Monday 26 October."""
    before = cheshire.plan("cheshire-police", alert(), datetime(2026, 10, 23, 7, 30, tzinfo=UTC))
    after = cheshire.plan("cheshire-police", alert(), datetime(2026, 10, 26, 7, 30, tzinfo=UTC))
    assert before.in_hours is True
    assert after.in_hours is False and first(after) == "control-room"


def test_the_named_offender_manager_first_in_hours(cheshire: Routes):
    record = alert(probation={"event": "compliance", "supervising_officer": " jo  BENNETT "})
    plan = cheshire.plan("probation-spoc-north", record, datetime(2026, 6, 3, 11, tzinfo=BST))
    assert [s.desk for s in plan.steps] == [
        "om-jo-bennett",
        "spoc-north",
        "duty-north",
        "manager-north",
    ]
    assert plan.steps[0].why == "named officer jo  BENNETT (payload.probation.supervising_officer)"
    assert plan.steps[1].why.startswith("escalation step 2: in hours")
    assert [s.acknowledge_within for s in plan.steps] == [MIN15, MIN15, MIN15, 2 * MIN15]


def test_a_named_officer_of_another_party_is_not_used(cheshire: Routes):
    record = alert(crime={"occurrence_number": "X1", "offence": {"code": "8Q"}})
    record.payload.crime.officer_in_case = "Jo Bennett"  # type: ignore[union-attr]
    plan = cheshire.plan("cheshire-police", record, datetime(2026, 6, 3, 11, tzinfo=BST))
    assert first(plan) == "hru-duty"
    assert any("no desk of cheshire-police has that name" in line for line in plan.why)


def test_the_named_officer_is_skipped_out_of_hours(cheshire: Routes):
    record = alert(probation={"event": "compliance", "supervising_officer": "Jo Bennett"})
    plan = cheshire.plan("probation-spoc-north", record, datetime(2026, 6, 3, 19, tzinfo=BST))
    assert [s.desk for s in plan.steps] == ["control-room", "control-room-inspector"]


def test_routing_by_pdu(west_midlands: Routes):
    at = datetime(2026, 6, 3, 10, tzinfo=BST)
    record = alert()
    record.subjects[0].probation_pdu = "birmingham central and south"
    plan = west_midlands.plan("probation-west-midlands", record, at)
    assert plan.route == "probation-birmingham-urgent" and first(plan) == "spoc-birmingham"
    record.subjects[0].probation_pdu = None
    assert west_midlands.plan("probation-west-midlands", record, at).route == (
        "probation-urgent-other"
    )
    by_record = alert(probation={"event": "compliance", "pdu": "Walsall and Wolverhampton"})
    by_record.subjects[0].probation_pdu = None
    plan = west_midlands.plan("probation-west-midlands", by_record, at)
    assert plan.route == "probation-black-country-urgent"
    assert any("probation-birmingham-urgent" in w and "PDU" in w for w in plan.why)


def test_the_shorter_deadline_wins(cheshire: Routes):
    at = datetime(2026, 6, 2, 10, tzinfo=BST)
    assert cheshire.plan("cheshire-police", alert(), at, timedelta(minutes=5)).steps[
        0
    ].acknowledge_within == timedelta(minutes=5)
    assert (
        cheshire.plan("cheshire-police", alert(), at, timedelta(hours=2))
        .steps[0]
        .acknowledge_within
        == MIN15
    )
    assert cheshire.plan("cheshire-police", alert(), at).steps[0].acknowledge_within == MIN15


def test_a_party_without_a_route_gets_its_default_desk(cheshire: Routes):
    plan = cheshire.plan("cheshire-marac", alert(), datetime(2026, 6, 2, 10, tzinfo=BST), MIN15)
    assert plan.route is None and plan.in_hours is None
    assert plan.steps == (Step("cheshire-marac", "cheshire-marac", MIN15, plan.steps[0].why),)
    assert cheshire.desk("cheshire-marac").name == "Cheshire MARAC coordinator"


def test_a_missing_directory_gives_routes_with_no_rules(tmp_path, cheshire_bundle):
    routes = load_routes(tmp_path / "routes", cheshire_bundle)
    assert routes.routes == () and routes.desks == {}
    plan = routes.plan("cheshire-police", alert(), datetime(2026, 12, 25, tzinfo=UTC), MIN15)
    assert [(s.desk, s.acknowledge_within) for s in plan.steps] == [("cheshire-police", MIN15)]
    assert routes.desk("cheshire-police").name == "Cheshire Constabulary (Harm Reduction Unit)"


def test_desks_of_a_person(cheshire: Routes):
    assert cheshire.desks_of("Jo.Bennett@probation.example") == ["om-jo-bennett"]
    assert cheshire.desks_of("oidc|cheshire|ds-harper") == ["hru-duty"]
    assert cheshire.desks_of("nobody@example.org") == []


def test_a_naive_time_is_refused(cheshire: Routes):
    with pytest.raises(ValueError, match="time zone"):
        cheshire.plan("cheshire-police", alert(), datetime(2026, 6, 2, 10))


def test_out_of_hours_without_a_fallback_waits_and_says_when(tmp_path):
    routes = load_routes(
        write_routes(
            tmp_path,
            """
            calendars:
              - id: office
                hours: {monday-friday: "09:00-17:00", saturday: ["10:00-12:00", "13:00-14:00"]}
            desks:
              - {id: team, party: p, name: Team, staff: [a@example.org]}
            routes:
              - {id: r, party: p, calendar: office, in_hours: {desk: team}}
            """,
        )
    )
    plan = routes.plan("p", alert("routine"), datetime(2026, 6, 6, 12, 30, tzinfo=BST))
    assert plan.in_hours is False and first(plan) == "team"
    assert "open 10:00-12:00, 13:00-14:00" in plan.steps[0].why
    assert "opens Sat 06 Jun 13:00 BST" in plan.steps[0].why
