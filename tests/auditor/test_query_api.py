"""The auditor's query API over HTTP, on SQLite and PostgreSQL: each filter, keyset
pages, the CSV export, who may ask (auditor and DPO; anyone else a 403, nobody
signed in a 401) and bad parameters as problem+json; looking a person up by
identifier; the subject access report; an exchange's timeline; every read audited."""

from __future__ import annotations

import csv
import io
import json

import pytest
import sqlalchemy as sa

from gateway.audit.checkpoints import keys_from_settings, take_checkpoint
from gateway.audit.subjects import subject_pseudonym
from gateway.store.tables import audit_log
from tests.auditor.helpers import (
    AUDITOR,
    DPO,
    SPOC,
    SUSPECT_PNC,
    csrf_headers,
    problem,
    submit_police,
)
from tests.conftest import TEST_KEY

pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")


@pytest.fixture(scope="module")
def submitted(audited):
    """Two police records and the trust's urgent alert, delivered."""
    police = [submit_police(audited), submit_police(audited)]
    alert, _ = audited.submit_alert()
    audited.gateway.wait_drained()
    return {"police": police, "alert": alert}


def entries(client, **params) -> dict:
    answer = client.get("/v1/audit/entries", params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    return answer.json()


def test_search_by_exchange_partner_purpose_rule_decision_and_time(audited, submitted):
    client, _ = audited.person(AUDITOR)
    police = submitted["police"][0]

    by_exchange = entries(client, exchange_id=police, limit=500)["entries"]
    actions = [e["action"] for e in by_exchange]
    assert "collection" in actions and "disclosure" in actions
    assert {e["exchange_id"] for e in by_exchange} == {police}
    assert [e["seq"] for e in by_exchange] == sorted((e["seq"] for e in by_exchange), reverse=True)

    permits = entries(client, exchange_id=police, decision="permit")["entries"]
    assert permits and {e["action"] for e in permits} == {"disclosure"}
    denials = entries(client, exchange_id=police, decision="deny")["entries"]
    assert {e["action"] for e in denials} <= {"refusal"}

    # A partner: the sender, a recipient, or a party refused.
    recipient = permits[0]["recipient"]
    to_recipient = entries(client, partner=recipient, limit=500)["entries"]
    assert to_recipient and all(
        e["actor"] == recipient
        or e["recipient"] == recipient
        or any(r["recipient"] == recipient for r in e["details"].get("refused", []))
        for e in to_recipient
    )
    assert {e["exchange_id"] for e in to_recipient} >= set(submitted["police"])

    purpose = permits[0]["details"]["purpose"]
    by_purpose = entries(client, purpose=purpose, limit=500)["entries"]
    assert by_purpose and all(
        e["details"].get("purpose") == purpose
        or purpose in e["details"].get("purposes", [])
        or any(r.get("purpose") == purpose for r in e["details"].get("refused", []))
        for e in by_purpose
    )

    rule = permits[0]["details"]["rules"][0]
    by_rule = entries(client, rule=rule, limit=500)["entries"]
    assert {e["exchange_id"] for e in by_rule} >= set(submitted["police"])
    assert all(rule in e["details"].get("rules", []) for e in by_rule)
    assert entries(client, rule="no-such-rule-anywhere")["entries"] == []

    collection = next(e for e in by_exchange if e["action"] == "collection")
    at = collection["recorded_at"]
    since = entries(client, exchange_id=police, since=at, limit=500)["entries"]
    assert {e["seq"] for e in since} == {e["seq"] for e in by_exchange if e["recorded_at"] >= at}
    before = entries(client, exchange_id=police, until=at)["entries"]
    assert before == []
    assert entries(client, action="collection", until="2000-01-01")["entries"] == []


def test_keyset_pages_cover_every_entry_once(audited, submitted):
    client, _ = audited.person(DPO)  # the data protection officer may search too
    everything = entries(client, limit=500)["entries"]
    assert len(everything) > 6
    seen: list[int] = []
    cursor = None
    for _ in range(100):
        page = entries(client, limit=3, **({"cursor": cursor} if cursor else {}))
        assert len(page["entries"]) <= 3
        seen += [e["seq"] for e in page["entries"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # Reading appends consultations: every entry there at the start is seen, once.
    first = {e["seq"] for e in everything}
    assert len(seen) == len(set(seen))
    assert first <= set(seen)
    assert seen == sorted(seen, reverse=True)


def test_csv_export_has_every_match_and_no_formula_cells(audited, submitted):
    client, _ = audited.person(AUDITOR)
    police = submitted["police"][1]
    answer = client.get("/v1/audit/entries", params={"exchange_id": police, "format": "csv"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    expected = entries(client, exchange_id=police, limit=500)["entries"]
    assert [int(r["seq"]) for r in rows] == [e["seq"] for e in expected]
    disclosure = next(r for r in rows if r["action"] == "disclosure")
    assert disclosure["paths_disclosed"] and disclosure["lawful_basis"]
    assert disclosure["payload_sha256"].startswith("sha256:")
    assert disclosure["subject_pseudonyms"].startswith("sp-")
    by_accept = client.get(
        "/v1/audit/entries", params={"exchange_id": police}, headers={"Accept": "text/csv"}
    )
    assert by_accept.headers["content-type"].startswith("text/csv")
    assert all(not cell.startswith(("=", "+", "@")) for r in rows for cell in r.values())


def test_a_person_is_looked_up_by_identifier_and_shown_by_pseudonym(audited, submitted):
    client, token = audited.person(AUDITOR)
    found = client.post(
        "/v1/audit/subjects",
        json={"system": "pnc_id", "value": SUSPECT_PNC.lower()},
        headers=csrf_headers(token),
    )
    assert found.status_code == 200, found.text
    body = found.json()
    expected = subject_pseudonym(TEST_KEY.encode(), "pnc_id", SUSPECT_PNC)
    assert body["subject"] == expected and body["exchanges"] == 2
    assert SUSPECT_PNC.lower() not in found.text and SUSPECT_PNC not in found.text

    about = entries(client, subject=expected, limit=500)["entries"]
    assert {e["exchange_id"] for e in about} == set(submitted["police"])
    assert all(
        expected in (e["details"].get("subject_pseudonyms") or {expected: ""})
        for e in about
        if e["action"] in ("collection", "disclosure")
    )
    # The alert is about someone else, found by their NHS number however it is spaced.
    assert submitted["alert"] not in {e["exchange_id"] for e in about}
    by_nhs = client.post(
        "/v1/audit/subjects",
        json={"system": "nhs_number", "value": "999 000 1006"},
        headers=csrf_headers(token),
    ).json()
    assert by_nhs["exchanges"] == 1
    alert_entries = entries(client, subject=by_nhs["subject"], limit=500)["entries"]
    assert {e["exchange_id"] for e in alert_entries} == {submitted["alert"]}

    # The lookup was audited by pseudonym and identifier system, never the value.
    with audited.gateway.store.engine.connect() as conn:
        details = (
            conn.execute(
                sa.select(audit_log.c.details)
                .where(
                    audit_log.c.action == "consultation", audit_log.c.actor == f"person:{AUDITOR}"
                )
                .order_by(audit_log.c.seq)
            )
            .scalars()
            .all()
        )
    lookups = [json.loads(d) for d in details if '"subject lookup"' in d]
    by_pnc = [d for d in lookups if d["subject_pseudonyms"] == {expected: ""}]
    assert by_pnc and by_pnc[-1]["identifier_system"] == "pnc_id"
    assert {d["identifier_system"] for d in lookups} >= {"pnc_id", "nhs_number"}
    assert not any(SUSPECT_PNC.lower() in d or SUSPECT_PNC in d for d in details)
    assert not any("9990001006" in d or "999 000 1006" in d for d in details)


def test_the_subject_access_report_marks_exemptions_for_the_dpo(audited, submitted):
    client, _ = audited.person(DPO)
    pseudonym = subject_pseudonym(TEST_KEY.encode(), "pnc_id", SUSPECT_PNC)
    answer = client.get(f"/v1/audit/subjects/{pseudonym}/report")
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["subject"] == pseudonym and report["exchanges"] == 2
    assert report["disclosures"], "the police record was disclosed to someone"
    for item in report["disclosures"]:
        assert item["exchange_id"] in submitted["police"]
        assert item["sender"] == "cheshire-police" and item["subject_role"] == "suspect"
        assert item["recipient"] and item["purpose"] and item["lawful_basis"]
        assert item["paths_disclosed"] and item["disclosed_at"]
        provisions = {x["provision"] for x in item["exemptions"]}
        # A crime record from the police naming a victim: both s45(4) grounds.
        assert {"DPA 2018 s45(4)(a)-(b)", "DPA 2018 s45(4)(e)"} <= provisions
        assert {x["decision"] for x in item["exemptions"]} == {"for the DPO to decide"}
    assert any(item["delivered_at"] for item in report["disclosures"])
    for value in ("Marsh", "Daniel", "1985-03-02", "WA1 1AA"):
        assert value not in answer.text

    with audited.gateway.store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(audit_log.c.action, audit_log.c.details)
            .where(audit_log.c.actor == f"person:{DPO}")
            .order_by(audit_log.c.seq.desc())
            .limit(2)
        ).all()
    assert sorted(r.action for r in rows) == ["combination", "consultation"]
    combined = next(json.loads(r.details) for r in rows if r.action == "combination")
    assert set(combined["exchanges"]) == set(submitted["police"])


def test_an_exchanges_timeline_tells_its_story(audited, submitted):
    client, _ = audited.person(AUDITOR)
    exchange_id = submitted["alert"]
    answer = client.get(f"/v1/audit/exchanges/{exchange_id}")
    assert answer.status_code == 200, answer.text
    steps = answer.json()["steps"]
    stages = [s["stage"] for s in steps]
    assert stages[0] == "received"
    assert stages.index("decided") < stages.index("minimised") < stages.index("delivered")
    minimised = next(s for s in steps if s["stage"] == "minimised")
    assert minimised["kept"] and all(isinstance(p, str) for p in minimised["removed"])
    decided = [s for s in steps if s["stage"] == "decided"]
    assert all(s["rules"] for s in decided if s["effect"] == "permit")
    assert client.get("/v1/audit/exchanges/not-an-id").status_code == 404
    gone = client.get("/v1/audit/exchanges/00000000-0000-4000-8000-000000000000")
    problem(gone, 404, "not-found")


def test_the_chain_and_its_checkpoints_are_reported_verified(audited, submitted):
    settings = audited.gateway.runtime.settings
    signed = take_checkpoint(audited.gateway.store.engine, keys_from_settings(settings))
    assert signed is not None
    client, _ = audited.person(AUDITOR)
    answer = client.get("/v1/audit/chain", params={"fresh": "true"})
    assert answer.status_code == 200, answer.text
    status = answer.json()
    assert status["status"] == "verified" and status["verified"] is True
    assert status["entries"] >= signed.upto_seq
    checkpoints = status["checkpoints"]
    assert checkpoints["count"] >= 1
    assert checkpoints["latest"]["upto_seq"] >= signed.upto_seq
    assert checkpoints["latest"]["key_id"] == signed.key_id
    page = client.get("/auditor")
    assert page.status_code == 200
    assert "Chain verified." in page.text and "Signed checkpoints:" in page.text
    assert f"with key {signed.key_id}" in page.text


def test_only_auditors_and_the_dpo_may_read(audited, submitted):
    spoc, token = audited.person(SPOC)
    problem(spoc.get("/v1/audit/entries"), 403, "role-required")
    problem(spoc.get("/v1/audit/chain"), 403, "role-required")
    problem(
        spoc.post(
            "/v1/audit/subjects",
            json={"system": "pnc_id", "value": SUSPECT_PNC},
            headers=csrf_headers(token),
        ),
        403,
        "role-required",
    )
    anonymous = audited.gateway.client(partner=None)
    problem(anonymous.get("/v1/audit/entries"), 401, "not-signed-in")
    # A partner's system, with a valid token, is no person with a role.
    partner = audited.gateway.client("cheshire-police")
    assert partner.get("/v1/audit/entries").status_code == 401


def test_bad_parameters_are_problems(audited, submitted):
    client, token = audited.person(AUDITOR)
    for params, field in (
        ({"decision": "maybe"}, "decision"),
        ({"action": "teleport"}, "action"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-12-02", "until": "2026-12-01"}, "until"),
        ({"exchange_id": "abc"}, "exchange_id"),
        ({"subject": "9434765919"}, "subject"),
        ({"limit": "0"}, "limit"),
        ({"limit": "100000"}, "limit"),
        ({"format": "xml"}, "format"),
    ):
        body = problem(client.get("/v1/audit/entries", params=params), 422, "invalid-request")
        assert any(p["field"].endswith(field) for p in body["problems"]), (params, body)
    problem(client.get("/v1/audit/entries", params={"cursor": "not-a-cursor"}), 400, "client-error")
    problem(client.get("/v1/audit/entries", params={"cursor": "YTE6LTU"}), 400, "client-error")
    # A lookup without the session's CSRF token, or with a bad body.
    problem(
        client.post("/v1/audit/subjects", json={"system": "crn", "value": "X123456"}),
        403,
        "csrf-rejected",
    )
    problem(
        client.post(
            "/v1/audit/subjects",
            json={"system": "passport", "value": "X"},
            headers=csrf_headers(token),
        ),
        422,
        "invalid-request",
    )
    problem(client.get("/v1/audit/subjects/sp-nothex/report"), 404, "not-found")


def test_a_partner_reading_its_exchange_is_a_consultation(audited, submitted):
    police = submitted["police"][0]
    partner = audited.gateway.client("cheshire-police")
    assert partner.get(f"/v1/exchanges/{police}").status_code == 200
    with audited.gateway.store.engine.connect() as conn:
        row = conn.execute(
            sa.select(audit_log.c.actor, audit_log.c.details)
            .where(audit_log.c.action == "consultation", audit_log.c.exchange_id == police)
            .order_by(audit_log.c.seq.desc())
            .limit(1)
        ).one()
    details = json.loads(row.details)
    assert row.actor.startswith("client:") and details["via"] == "GET /v1/exchanges/{id}"
    pseudonym = subject_pseudonym(TEST_KEY.encode(), "pnc_id", SUSPECT_PNC)
    assert details["subject_pseudonyms"][pseudonym] == "suspect"


def test_without_sign_in_configured_the_audit_pages_are_not_there(gateway):
    """The shared gateway has no identity provider: every auditor endpoint and page is
    a 404, as /auth is, and a partner's token is no way in."""
    with gateway.client("cheshire-police") as partner:
        problem(partner.get("/v1/audit/entries"), 404, "sign-in-not-configured")
        problem(partner.get("/v1/audit/chain"), 404, "sign-in-not-configured")
        problem(
            partner.post("/v1/audit/subjects", json={"system": "crn", "value": "X123456"}),
            404,
            "sign-in-not-configured",
        )
        for path in ("/auditor", "/auditor/search", "/auditor/subjects/sp-x/report"):
            page = partner.get(path)
            assert page.status_code == 404, path
            assert page.headers["content-type"].startswith("text/html")
