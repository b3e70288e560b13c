"""Acknowledging over HTTP: the recipient's system stops the clock; the sender sees
who acknowledged and when; nobody else can."""

from __future__ import annotations

from tests.conftest import ROOT

ALERT = ROOT / "examples" / "fhir" / "suicidal-ideation-alert-message.json"


def raise_alert(gateway) -> str:
    with gateway.client("cwp-mental-health") as client:
        answer = client.post(
            "/v1/inbound/fhir",
            content=ALERT.read_bytes(),
            headers={"Content-Type": "application/fhir+json"},
        )
    assert answer.status_code == 202, answer.text
    assert answer.json()["recipients"] == ["nhs-crisis-line"]
    return answer.json()["exchange_id"]


def status(gateway, exchange_id: str) -> dict:
    with gateway.client("cwp-mental-health") as client:
        got = client.get(f"/v1/exchanges/{exchange_id}")
    assert got.status_code == 200, got.text
    (clock,) = got.json()["acknowledgements"]
    return clock


def test_the_recipient_acknowledges_and_the_sender_sees_it(gateway):
    exchange_id = raise_alert(gateway)
    waiting = status(gateway, exchange_id)
    assert (waiting["recipient"], waiting["status"], waiting["step"]) == (
        "nhs-crisis-line",
        "waiting",
        0,
    )
    assert waiting["deadline"] is not None and waiting["acknowledged_at"] is None

    with gateway.client("nhs-crisis-line") as client:
        first = client.post(f"/v1/exchanges/{exchange_id}/acknowledge")
        again = client.post(f"/v1/exchanges/{exchange_id}/acknowledge")
    assert first.status_code == 200, first.text
    assert first.json()["already"] is False
    assert again.json()["already"] is True
    assert again.json()["acknowledged_at"] == first.json()["acknowledged_at"]

    done = status(gateway, exchange_id)
    assert done["status"] == "acknowledged"
    assert done["acknowledged_by"] == first.json()["acknowledged_by"]
    assert done["acknowledged_by"].startswith("client:")
    assert done["deadline"] is None


def test_the_sender_cannot_acknowledge_and_others_learn_nothing(gateway):
    exchange_id = raise_alert(gateway)
    with gateway.client("cwp-mental-health") as client:
        sender = client.post(f"/v1/exchanges/{exchange_id}/acknowledge")
    assert sender.status_code == 403
    assert sender.headers["content-type"].startswith("application/problem+json")
    assert sender.json()["type"].endswith("/not-the-recipient")
    with gateway.client("cheshire-police") as client:
        other = client.post(f"/v1/exchanges/{exchange_id}/acknowledge")
        unknown = client.post("/v1/exchanges/not-an-id/acknowledge")
    assert other.status_code == 404
    assert unknown.status_code == 404
    assert status(gateway, exchange_id)["status"] == "waiting"


def test_a_withdrawn_alert_stops_its_clock_and_never_escalates(gateway):
    from datetime import UTC, datetime, timedelta

    from gateway.alerts.clock import escalate_due

    exchange_id = raise_alert(gateway)
    with gateway.client("cwp-mental-health") as client:
        withdrawn = client.post(
            f"/v1/exchanges/{exchange_id}/withdrawal",
            json={"reason": "raised against the wrong patient", "category": "sent-in-error"},
        )
    assert withdrawn.status_code == 200, withdrawn.text
    stopped = status(gateway, exchange_id)
    assert stopped["status"] == "withdrawn" and stopped["deadline"] is None
    assert stopped["history"][-1]["withdrawn"] == "cwp-mental-health"

    an_hour_late = datetime.now(UTC) + timedelta(hours=1)
    taken = escalate_due(gateway.store, an_hour_late)
    assert [t for t in taken if t.exchange_id == exchange_id] == []

    # Acknowledging it afterwards is recorded, but the copy still reads as withdrawn.
    with gateway.client("nhs-crisis-line") as client:
        late = client.post(f"/v1/exchanges/{exchange_id}/acknowledge")
    assert late.status_code == 200, late.text
    after = status(gateway, exchange_id)
    assert after["status"] == "withdrawn" and after["acknowledged_at"] is not None


def test_a_corrected_alert_supersedes_the_first_clock(gateway):
    exchange_id = raise_alert(gateway)
    with gateway.client("cwp-mental-health") as client:
        corrected = client.post(
            f"/v1/exchanges/{exchange_id}/correction",
            content=ALERT.read_bytes(),
            headers={"Content-Type": "application/fhir+json"},
        )
    assert corrected.status_code == 202, corrected.text
    assert status(gateway, exchange_id)["status"] == "superseded"
    fresh = status(gateway, corrected.json()["exchange_id"])
    assert (fresh["recipient"], fresh["status"]) == ("nhs-crisis-line", "waiting")
    with gateway.client("cwp-mental-health") as client:
        first = client.get(f"/v1/exchanges/{exchange_id}").json()
    assert first["corrected_by"] == [corrected.json()["exchange_id"]]
