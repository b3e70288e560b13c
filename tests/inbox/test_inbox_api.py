"""The recipient's inbox over HTTP, for people signed in with a real OpenID Connect
provider: only their desks' items, the copy as the recipient received it, each view
audited as a consultation and marked read, acknowledgement for the recipient."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa

from gateway.alerts.clock import Step, clock_row
from gateway.errors import PROBLEM_BASE
from gateway.store.tables import INSERT_CLOCKS, alert_clocks, audit_log, outbox
from tests.inbox.helpers import ALERT, RECIPIENT, SENDER

pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")

DUTY = "oidc|cwp|duty-practitioner"  # staffs crisis-line, the alert's first desk
MANAGER = "oidc|cwp|duty-manager"  # staffs crisis-line-manager, the same party
NURSE = "oidc|cwp|hru-nurse"  # staffs cwp-hru-nurse (party cwp-mental-health)
STRANGER = "oidc|probation|spoc-north"  # a SPOC with no desk at the crisis line
#: Identifying details in the sample alert, which no audit entry may hold.
PERSONAL = ("Marsh", "9990001006", "1985-03-02")


def problem(answer: httpx.Response, status: int, slug: str) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["type"] == PROBLEM_BASE + slug
    return body


def listed(client: httpx.Client, **filters: object) -> list[str]:
    answer = client.get("/v1/inbox", params={"limit": 200, **filters})
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    return [item["item_id"] for item in answer.json()["items"]]


def test_the_desk_sees_the_alert_with_the_copy_as_the_recipient_received_it(inbox):
    exchange_id, item_id = inbox.submit_alert()
    inbox.gateway.wait_drained()
    client, _ = inbox.person(DUTY)
    answer = client.get("/v1/inbox")
    assert answer.status_code == 200, answer.text
    page = answer.json()
    (item,) = [i for i in page["items"] if i["item_id"] == item_id]
    assert item["exchange_id"] == exchange_id
    assert item["recipient"] == RECIPIENT and item["sender"] == SENDER
    assert item["urgent"] is True and item["status"] == "waiting"
    assert item["desk"]["id"] == "crisis-line" and (item["step"], item["steps"]) == (1, 2)
    assert item["deadline"] is not None and item["read_at"] is None

    detail = client.get(f"/v1/inbox/{item_id}").json()
    with inbox.gateway.store.engine.connect() as conn:
        payload = conn.execute(
            sa.select(outbox.c.payload).where(
                outbox.c.exchange_id == exchange_id,
                outbox.c.recipient == RECIPIENT,
                outbox.c.channel == "kafka",
            )
        ).scalar_one()
    assert detail["copy"]["format"] == "canonical"
    assert detail["copy"]["record"] == json.loads(payload)["record"]
    assert [s["desk"]["id"] for s in detail["escalation"]] == ["crisis-line", "crisis-line-manager"]
    assert [s["reached"] for s in detail["escalation"]] == [True, False]
    assert detail["may_acknowledge"] is True


def test_a_person_sees_only_their_desks_items(inbox):
    _, item_id = inbox.submit_alert()
    manager, _ = inbox.person(MANAGER)  # the crisis line's own, and it waits
    assert item_id in listed(manager)
    stranger, token = inbox.person(STRANGER)
    assert item_id not in listed(stranger)
    problem(stranger.get(f"/v1/inbox/{item_id}"), 404, "not-found")
    answer = stranger.post(f"/v1/inbox/{item_id}/acknowledge", headers={"X-CSRF-Token": token})
    problem(answer, 404, "not-found")
    for nonsense in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        problem(stranger.get(f"/v1/inbox/{nonsense}"), 404, "not-found")


def test_only_spoc_and_duty_roles_may_use_the_inbox(inbox):
    with httpx.Client(base_url=inbox.base_url) as anonymous:
        problem(anonymous.get("/v1/inbox"), 401, "not-signed-in")
    for sub in ("oidc|cwp|no-role", "oidc|cwp|auditor"):  # crisis-line's address, no role
        client, _ = inbox.person(sub)
        problem(client.get("/v1/inbox"), 403, "role-required")


def test_viewing_an_item_is_an_audited_consultation_and_marks_it_read(inbox):
    exchange_id, item_id = inbox.submit_alert()
    duty, _ = inbox.person(DUTY)
    manager, _ = inbox.person(MANAGER)
    assert item_id in listed(duty, unread=True)
    assert duty.get(f"/v1/inbox/{item_id}").status_code == 200
    assert item_id not in listed(duty, unread=True)
    assert item_id in listed(duty, unread=False)
    assert item_id in listed(manager, unread=True)  # read is per person

    with inbox.gateway.store.engine.connect() as conn:
        entries = (
            conn.execute(
                sa.select(audit_log).where(
                    audit_log.c.exchange_id == exchange_id,
                    audit_log.c.action == "consultation",
                )
            )
            .mappings()
            .all()
        )
    (entry,) = entries
    assert entry["actor"] == f"person:{DUTY}" and entry["recipient"] == RECIPIENT
    details = json.loads(entry["details"])
    assert details["item_id"] == item_id and details["desks"] == ["crisis-line"]
    record = ALERT.read_text()
    for personal in PERSONAL:
        assert personal in record and personal not in entry["details"]
    # a second view is a second consultation; it stays read from the first
    first_read = duty.get(f"/v1/inbox/{item_id}").json()["read_at"]
    assert duty.get(f"/v1/inbox/{item_id}").json()["read_at"] == first_read


def test_the_desk_acknowledges_and_the_clock_stops(inbox):
    exchange_id, item_id = inbox.submit_alert()
    duty, token = inbox.person(DUTY)
    manager, _ = inbox.person(MANAGER)
    path = f"/v1/inbox/{item_id}/acknowledge"
    problem(duty.post(path), 403, "csrf-rejected")
    answer = duty.post(path, headers={"X-CSRF-Token": token})
    assert answer.status_code == 200, answer.text
    done = answer.json()
    assert done["acknowledged_by"] == f"person:{DUTY}" and done["already"] is False
    assert (done["recipient"], done["exchange_id"]) == (RECIPIENT, exchange_id)
    again = duty.post(path, headers={"X-CSRF-Token": token}).json()
    assert again["already"] is True and again["acknowledged_at"] == done["acknowledged_at"]

    item = duty.get(f"/v1/inbox/{item_id}").json()
    assert item["status"] == "acknowledged" and item["deadline"] is None
    assert item_id in listed(duty, unacknowledged=False)
    assert item_id not in listed(duty, unacknowledged=True)
    # the manager's desk was never reached: acknowledged, it leaves their list, and
    # nothing escalates to them however late it is
    assert item_id not in listed(manager)
    later = datetime.now(UTC) + timedelta(hours=2)
    from gateway.alerts import escalate_due

    assert [s for s in escalate_due(inbox.gateway.store, later) if s.clock_id == item_id] == []
    sender = inbox.gateway.client(SENDER)
    (trail,) = [
        t
        for t in sender.get(f"/v1/exchanges/{exchange_id}").json()["acknowledgements"]
        if t["recipient"] == RECIPIENT
    ]
    assert trail["status"] == "acknowledged" and trail["acknowledged_by"] == f"person:{DUTY}"


def test_someone_told_earlier_at_another_party_may_look_but_not_acknowledge(inbox):
    """Out of hours the trust's urgent copy goes to the crisis line first (a desk of
    another party); once it has moved on, the crisis line can still open it, but only
    the trust's own people or the desk it is at now can acknowledge it."""
    exchange_id, _ = inbox.submit_alert()
    steps = [
        Step("crisis-line", "nhs-crisis-line", timedelta(minutes=15), "out of hours"),
        Step("crisis-line-manager", "nhs-crisis-line", timedelta(minutes=15), "step 2"),
    ]
    row = clock_row(exchange_id, SENDER, steps, datetime.now(UTC))
    with inbox.gateway.store.transaction() as conn:
        conn.execute(INSERT_CLOCKS, [row])
        conn.execute(
            alert_clocks.update().where(alert_clocks.c.clock_id == row["clock_id"]).values(step=1)
        )
    item_id = row["clock_id"]
    duty, token = inbox.person(DUTY)
    assert item_id not in listed(duty)  # no longer at their desk
    assert duty.get(f"/v1/inbox/{item_id}").json()["may_acknowledge"] is False
    answer = duty.post(f"/v1/inbox/{item_id}/acknowledge", headers={"X-CSRF-Token": token})
    problem(answer, 403, "not-the-recipient")
    manager, _ = inbox.person(MANAGER)
    assert item_id in listed(manager)  # at their desk now
    nurse, nurse_token = inbox.person(NURSE)  # the trust's own: acknowledges for it
    assert item_id in listed(nurse)
    answer = nurse.post(f"/v1/inbox/{item_id}/acknowledge", headers={"X-CSRF-Token": nurse_token})
    assert answer.status_code == 200, answer.text
    assert answer.json()["recipient"] == SENDER
    assert answer.json()["acknowledged_by"] == f"person:{NURSE}"


def test_filters_and_pages(inbox):
    items = [inbox.submit_alert()[1] for _ in range(3)]
    duty, _ = inbox.person(DUTY)
    assert set(items) <= set(listed(duty, urgent=True))
    assert not set(items) & set(listed(duty, urgent=False))
    newest_first = listed(duty)
    assert [i for i in newest_first if i in items] == items[::-1]
    first = duty.get("/v1/inbox", params={"limit": 2}).json()
    assert len(first["items"]) == 2 and first["next_offset"] == 2
    second = duty.get("/v1/inbox", params={"limit": 2, "offset": 2}).json()
    assert second["items"][0]["item_id"] == newest_first[2]
    assert first["total"] == second["total"] == len(newest_first)
    problem(duty.get("/v1/inbox", params={"limit": 0}), 422, "invalid-request")
    problem(duty.get("/v1/inbox", params={"urgent": "perhaps"}), 422, "invalid-request")


def test_the_pages_send_a_person_to_sign_in_and_back(inbox):
    _, item_id = inbox.submit_alert()
    with httpx.Client(base_url=inbox.base_url, timeout=30) as browser:
        answer = browser.get(f"/inbox/{item_id}")
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/auth/login?next=%2Finbox%2F{item_id}"
        from tests.identity.oidc_provider import sign_in

        landed = sign_in(browser, DUTY, next_=f"/inbox/{item_id}")
        assert landed.status_code == 200 and landed.url.path == f"/inbox/{item_id}"
        assert '<html lang="en-GB">' in landed.text and "URGENT" in landed.text
        assert 'name="csrf_token"' in landed.text
        stranger, _ = inbox.person(STRANGER)
        assert stranger.get(f"/inbox/{item_id}").status_code == 404


def test_without_sign_in_configured_the_inbox_is_not_there(gateway):
    """The shared gateway has no identity provider: every inbox endpoint and page is a
    404, as /auth is, and a partner's token is no way in."""
    with gateway.client(SENDER) as partner:
        problem(partner.get("/v1/inbox"), 404, "sign-in-not-configured")
        item = "01a24a04-d597-72c6-8d64-3e44fa06b29b"
        problem(partner.get(f"/v1/inbox/{item}"), 404, "sign-in-not-configured")
        problem(partner.post(f"/v1/inbox/{item}/acknowledge"), 404, "sign-in-not-configured")
        page = partner.get(f"/inbox/{item}")
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")


def test_the_answers_are_as_the_openapi_document_says(inbox):
    from jsonschema import Draft202012Validator, FormatChecker

    spec = httpx.get(f"{inbox.base_url}/openapi.json").json()

    def valid(path: str, method: str, body: dict) -> None:
        answer = spec["paths"][path][method]["responses"]["200"]
        schema = answer["content"]["application/json"]["schema"]
        validator = Draft202012Validator({**spec, **schema}, format_checker=FormatChecker())
        assert [e.message for e in validator.iter_errors(body)] == []
        assert spec["paths"][path][method]["security"] == [{"personSession": []}]

    _, item_id = inbox.submit_alert()
    duty, token = inbox.person(DUTY)
    valid("/v1/inbox", "get", duty.get("/v1/inbox").json())
    valid("/v1/inbox/{item_id}", "get", duty.get(f"/v1/inbox/{item_id}").json())
    done = duty.post(f"/v1/inbox/{item_id}/acknowledge", headers={"X-CSRF-Token": token})
    valid("/v1/inbox/{item_id}/acknowledge", "post", done.json())
    assert not any(path.startswith("/inbox") for path in spec["paths"])  # pages: no schema
