"""Corrections and withdrawals end to end (UK GDPR Art 19, DPA 2018 s46): a correction
reaches exactly the recipients of the original, minimised by the policy in force; one
the policy no longer permits is told to disregard it; a withdrawal reaches every
recipient of a copy; all of it audited, and only the sender may do either."""

from __future__ import annotations

import json

import sqlalchemy as sa

from gateway.audit.verify import verify_engine
from gateway.delivery.reader import read_topic
from gateway.errors import PROBLEM_BASE
from gateway.store.tables import audit_log
from tests.conftest import EXAMPLES

JSON = {"Content-Type": "application/json"}
SAMPLE = EXAMPLES / "police" / "stalking-crime.json"


def _sample(**changes) -> dict:
    record = json.loads(SAMPLE.read_text())
    for path, value in changes.items():
        target = record
        *parents, last = path.split("__")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value
    return record


def _submit(gateway, record: dict) -> dict:
    with gateway.client("cheshire-police") as client:
        answer = client.post("/v1/inbound/police", json=record)
    assert answer.status_code == 202, answer.text
    return answer.json()


def _correct(gateway, exchange_id: str, record: dict, partner: str = "cheshire-police"):
    with gateway.client(partner) as client:
        return client.post(
            f"/v1/exchanges/{exchange_id}/correction", content=json.dumps(record), headers=JSON
        )


def _withdraw(gateway, exchange_id: str, body: dict, partner: str = "cheshire-police"):
    with gateway.client(partner) as client:
        return client.post(f"/v1/exchanges/{exchange_id}/withdrawal", json=body)


def _messages(gateway, recipient: str, exchange_id: str, expect: int | None = None) -> list[dict]:
    return read_topic(
        gateway.bootstrap, gateway.topic(recipient), exchange_id=exchange_id, expect=expect
    )


def _entries(gateway, exchange_id: str, action: str) -> list[dict]:
    with gateway.store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(audit_log.c.actor, audit_log.c.recipient, audit_log.c.details)
            .where(audit_log.c.exchange_id == exchange_id, audit_log.c.action == action)
            .order_by(audit_log.c.seq)
        ).all()
    return [{"actor": a, "recipient": r, **json.loads(d)} for a, r, d in rows]


def _problem(answer, status: int, slug: str) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert body["type"] == PROBLEM_BASE + slug
    return body


def test_a_correction_reaches_exactly_the_earlier_recipients_minimised(gateway):
    original = _submit(gateway, _sample())
    earlier = sorted(original["recipients"])
    assert "probation-spoc-north" in earlier and len(earlier) >= 2

    corrected = _sample(occurrence__status="charged")
    answer = _correct(gateway, original["exchange_id"], corrected)
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["corrects"] == original["exchange_id"]
    assert sorted(body["recipients"]) == earlier
    assert body["withdrawn_from"] == [] and body["also_permitted"] == []
    correction_id = body["exchange_id"]
    assert correction_id != original["exchange_id"]

    for recipient in earlier:
        (before,) = _messages(gateway, recipient, original["exchange_id"], expect=1)
        (after,) = _messages(gateway, recipient, correction_id, expect=1)
        assert after["headers"]["kind"] == "correction"
        assert after["headers"]["corrects"] == original["exchange_id"]
        assert after["value"]["kind"] == "correction"  # in the body too, for webhooks
        assert after["value"]["corrects"] == original["exchange_id"]
        # minimised as the original was: the same fields cross, the new value with them
        assert (
            after["value"]["decision"]["disclosed_fields"]
            == (before["value"]["decision"]["disclosed_fields"])
        )
    (north,) = _messages(gateway, "probation-spoc-north", correction_id, expect=1)
    record = north["value"]["record"]
    assert record["payload"]["crime"]["status"] == "charged"
    assert "Canal Street" not in json.dumps(record)  # the suspect's address stays out

    # nobody else receives it
    gateway.wait_drained()
    others = [d["recipient"] for d in body["decisions"] if d["recipient"] not in earlier]
    for recipient in others:
        assert _messages(gateway, recipient, correction_id, expect=0) == []

    (alteration,) = _entries(gateway, original["exchange_id"], "alteration")
    assert alteration["actor"] == "cheshire-police"
    assert alteration["corrected_by"] == correction_id
    assert sorted(alteration["sent_to"]) == earlier
    assert verify_engine(gateway.store.engine).ok

    with gateway.client("cheshire-police") as client:
        status = client.get(f"/v1/exchanges/{original['exchange_id']}").json()
        assert status["corrected_by"] == [correction_id] and status["withdrawn_at"] is None
        assert (
            client.get(f"/v1/exchanges/{correction_id}").json()["corrects"]
            == (original["exchange_id"])
        )
    # only the latest version is corrected
    _problem(_correct(gateway, original["exchange_id"], corrected), 409, "exchange-superseded")


def test_a_recipient_no_longer_permitted_gets_a_withdrawal_and_a_new_one_nothing(gateway):
    original = _submit(gateway, _sample())
    assert "probation-spoc-north" in original["recipients"]
    # He lives in Cheshire East after all: the North SPOC may not have it, East may.
    moved = _sample(persons__0__address={"lines": ["1 Mill Lane"], "district": "Cheshire East"})
    answer = _correct(gateway, original["exchange_id"], moved)
    assert answer.status_code == 202, answer.text
    body = answer.json()
    correction_id = body["exchange_id"]
    assert body["withdrawn_from"] == ["probation-spoc-north"]
    assert body["also_permitted"] == ["probation-spoc-east"]
    assert "probation-spoc-north" not in body["recipients"]
    east = next(d for d in body["decisions"] if d["recipient"] == "probation-spoc-east")
    assert east["effect"] == "deny" and east["rules"][0] == "correction:earlier-recipients-only"

    (copy,) = _messages(gateway, "probation-spoc-north", original["exchange_id"], expect=1)
    (notice,) = _messages(gateway, "probation-spoc-north", correction_id, expect=1)
    assert notice["headers"]["kind"] == "withdrawal"
    assert notice["headers"]["withdraws"] == original["exchange_id"]
    assert notice["value"]["delivery_ids"] == [copy["headers"]["delivery-id"]]
    assert notice["value"]["reason"] == "no-longer-permitted"
    assert "record" not in notice["value"] and "Mill Lane" not in json.dumps(notice)
    assert notice["key"] == copy["key"]  # in the copy's queue, behind it
    gateway.wait_drained()
    assert _messages(gateway, "probation-spoc-east", correction_id, expect=0) == []

    (withdrawal,) = _entries(gateway, original["exchange_id"], "withdrawal")
    assert withdrawal["recipient"] == "probation-spoc-north"
    assert withdrawal["corrected_by"] == correction_id


def test_a_withdrawal_reaches_every_earlier_recipient_and_is_audited(gateway):
    original = _submit(gateway, _sample())
    exchange_id = original["exchange_id"]
    reason = "Sent against the wrong occurrence by DC Hughes"
    answer = _withdraw(gateway, exchange_id, {"reason": reason, "category": "sent-in-error"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["category"] == "sent-in-error"
    assert sorted(r["recipient"] for r in body["recipients"]) == sorted(original["recipients"])

    for recipient in original["recipients"]:
        copy, notice = _messages(gateway, recipient, exchange_id, expect=2)
        assert copy["headers"].get("kind") is None and notice["headers"]["kind"] == "withdrawal"
        assert notice["headers"]["withdraws"] == exchange_id
        assert notice["value"]["delivery_ids"] == [copy["headers"]["delivery-id"]]
        assert notice["value"]["reason"] == "sent-in-error"
        assert "Hughes" not in json.dumps(notice)  # the free text stays in the audit trail

    entries = _entries(gateway, exchange_id, "withdrawal")
    assert sorted(e["recipient"] for e in entries) == sorted(original["recipients"])
    assert {e["reason"] for e in entries} == {reason}
    assert {e["actor"] for e in entries} == {"cheshire-police"}
    assert verify_engine(gateway.store.engine).ok

    gateway.wait_drained()  # the notices are sent too, as deliveries of this exchange
    with gateway.client("cheshire-police") as client:
        after = client.get(f"/v1/exchanges/{exchange_id}").json()
    assert after["withdrawn_at"]
    notices = {n for e in entries for n in e["notices"]}
    assert sorted(d["recipient"] for d in after["deliveries"]) == sorted(original["recipients"])
    for copy in after["deliveries"]:  # each still shows its copy, not the notice after it
        assert copy["status"] == "sent" and copy["delivery_id"] not in notices
    _problem(_correct(gateway, exchange_id, _sample()), 409, "exchange-withdrawn")
    _problem(_withdraw(gateway, exchange_id, {"reason": "again"}), 409, "exchange-withdrawn")


def test_only_the_sender_may_correct_or_withdraw(gateway):
    original = _submit(gateway, _sample())
    exchange_id = original["exchange_id"]
    other = "probation-spoc-north"  # a recipient of it, even
    _problem(_correct(gateway, exchange_id, _sample(), partner=other), 404, "not-found")
    _problem(_withdraw(gateway, exchange_id, {"reason": "x"}, partner=other), 404, "not-found")
    _problem(_withdraw(gateway, "not-an-id", {"reason": "x"}), 404, "not-found")
    assert _entries(gateway, exchange_id, "withdrawal") == []
    assert _entries(gateway, exchange_id, "alteration") == []


def test_a_bad_correction_or_withdrawal_is_refused_and_keeps_nothing(gateway):
    original = _submit(gateway, _sample())
    exchange_id = original["exchange_id"]
    bad = _sample()
    del bad["persons"]
    _problem(_correct(gateway, exchange_id, bad), 422, "invalid-record")
    _problem(_withdraw(gateway, exchange_id, {"reason": ""}), 422, "invalid-request")
    unknown = {"reason": "x", "category": "nope"}
    _problem(_withdraw(gateway, exchange_id, unknown), 422, "invalid-request")
    with gateway.client("cheshire-police") as client:
        not_json = client.post(
            f"/v1/exchanges/{exchange_id}/withdrawal", content=b"{reason", headers=JSON
        )
    _problem(not_json, 400, "malformed-body")
    with gateway.client("cheshire-police") as client:
        status = client.get(f"/v1/exchanges/{exchange_id}").json()
    assert status["corrected_by"] == [] and status["withdrawn_at"] is None


def test_a_record_erased_at_the_end_of_its_retention_cannot_be_corrected_or_withdrawn(gateway):
    from gateway.store.tables import exchanges

    exchange_id = _submit(gateway, _sample())["exchange_id"]
    with gateway.store.transaction() as conn:
        conn.execute(
            exchanges.update()
            .where(exchanges.c.exchange_id == exchange_id)
            .values(envelope={"erased": True}, erased_at=sa.func.now())
        )
    _problem(_correct(gateway, exchange_id, _sample()), 409, "exchange-erased")
    _problem(_withdraw(gateway, exchange_id, {"reason": "x"}), 409, "exchange-erased")
    with gateway.client("cheshire-police") as client:
        assert client.get(f"/v1/exchanges/{exchange_id}").json()["erased_at"]
