"""Every kind of s62 entry says what DPA 2018 s62 asks, and nothing that identifies
anyone: collection, disclosure, refusal, transmission, consultation (an exchange's
status, an inbox item, the auditor's pages and reports), alteration and
withdrawal (a correction, a withdrawal), combination (a subject access report)
and a refused attempt. Each names the justification, who acted, the recipient
where there is one, the subjects by audit pseudonym, the payload by its hash, the
policy bundle by its hash and the trace; never a value of the records."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from gateway.audit.subjects import subject_pseudonym
from gateway.store.tables import audit_log, exchanges
from tests.auditor.helpers import AUDITOR, PERSONAL, POLICE_SAMPLE, SUSPECT_PNC, submit_police
from tests.conftest import TEST_KEY

pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")

DUTY = "oidc|cwp|duty-practitioner"  # staffs the crisis line, the alert's first desk
SUSPECT = subject_pseudonym(TEST_KEY.encode(), "pnc_id", SUSPECT_PNC)
HASH = "sha256:"


def _entries(gateway: Any, **where: str) -> list[dict[str, Any]]:
    query = sa.select(audit_log).order_by(audit_log.c.seq)
    for column, value in where.items():
        query = query.where(audit_log.c[column] == value)
    with gateway.store.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [{**row, "details": json.loads(row["details"])} for row in rows]


@pytest.fixture(scope="module")
def story(audited) -> dict[str, Any]:
    """One of each: submitted, delivered, read, corrected, withdrawn, reported on,
    refused."""
    gateway = audited.gateway
    first = submit_police(audited)
    corrected = httpx.post(
        f"{audited.base_url}/v1/exchanges/{first}/correction",
        content=POLICE_SAMPLE.read_bytes(),
        headers={"Content-Type": "application/json", **gateway.auth("cheshire-police")},
        timeout=30,
    )
    assert corrected.status_code == 202, corrected.text
    second = corrected.json()["exchange_id"]
    withdrawn = httpx.post(
        f"{audited.base_url}/v1/exchanges/{second}/withdrawal",
        json={"category": "sent-in-error", "reason": "sent to the wrong team"},
        headers=gateway.auth("cheshire-police"),
        timeout=30,
    )
    assert withdrawn.status_code == 200, withdrawn.text
    alert, item = audited.submit_alert()
    gateway.wait_drained()
    with gateway.client("cheshire-police") as partner:
        assert partner.get(f"/v1/exchanges/{first}").status_code == 200
    duty, _ = audited.person(DUTY)
    assert duty.get(f"/v1/inbox/{item}").status_code == 200
    auditor, _ = audited.person(AUDITOR)
    assert auditor.get(f"/v1/audit/subjects/{SUSPECT}/report").status_code == 200
    assert auditor.get(f"/auditor/exchanges/{first}").status_code == 200
    refused = httpx.post(
        f"{audited.base_url}/v1/inbound/police",
        content=POLICE_SAMPLE.read_bytes(),
        headers={"Authorization": "Bearer not-a-token", "Content-Type": "application/json"},
        timeout=30,
    )
    assert refused.status_code == 401
    return {"first": first, "second": second, "alert": alert, "item": item}


def test_collection_names_client_subjects_payload_bundle_and_trace(audited, story):
    (entry,) = _entries(audited.gateway, exchange_id=story["first"], action="collection")
    details = entry["details"]
    assert entry["actor"] == "cheshire-police" and details["client"]
    assert details["purpose"] and details["justification"]
    assert details["subject_pseudonyms"] == {SUSPECT: "suspect"}  # the victim has no identifier
    assert details["policy_version"].startswith(HASH)
    with audited.gateway.store.engine.connect() as conn:
        envelope = conn.execute(
            sa.select(sa.cast(exchanges.c.envelope, sa.Text)).where(
                exchanges.c.exchange_id == story["first"]
            )
        ).scalar_one()
    # The hash is of the record as kept, so the copy held can be checked against it.
    assert details["payload_sha256"] == HASH + hashlib.sha256(envelope.encode()).hexdigest()
    assert len(details["trace_id"]) == 32


def test_each_disclosure_names_its_justification_recipient_paths_and_hashes(audited, story):
    disclosures = _entries(audited.gateway, exchange_id=story["first"], action="disclosure")
    assert disclosures
    for entry in disclosures:
        details = entry["details"]
        assert entry["recipient"] and details["recipient"] == entry["recipient"]
        # The justification: the purpose, the lawful basis and the rule that permitted it.
        assert details["purpose"] and details["lawful_basis"] and details["rules"]
        assert details["disclosed"] and isinstance(details["removed"], list)
        assert all(isinstance(p, str) for p in details["disclosed"] + details["removed"])
        assert details["payload_sha256"].startswith(HASH)
        assert details["policy_version"].startswith(HASH)
        assert details["subject_pseudonyms"] == {SUSPECT: "suspect"}
        assert details["client"] and len(details["trace_id"]) == 32


def test_refusals_name_each_recipients_rules_and_reason(audited, story):
    (entry,) = _entries(audited.gateway, exchange_id=story["first"], action="refusal")
    details = entry["details"]
    assert details["refused"] and all(r["recipient"] and r["rules"] for r in details["refused"])
    assert all(r["reason"] for r in details["refused"])
    assert details["purposes"] and details["policy_version"].startswith(HASH)
    assert details["subject_pseudonyms"] == {SUSPECT: "suspect"}


def test_transmissions_name_the_bytes_sent_and_the_trace(audited, story):
    sent = _entries(audited.gateway, exchange_id=story["first"], action="transmission")
    assert sent
    for entry in sent:
        details = entry["details"]
        assert entry["recipient"] and details["delivery_id"] and details["channel"]
        assert details["payload_sha256"].startswith(HASH)
        assert len(details["trace_id"]) == 32


def test_consultations_name_who_read_whose_record_and_why(audited, story):
    reads = _entries(audited.gateway, action="consultation")
    first = story["first"]
    by_partner = [e for e in reads if e["exchange_id"] == first and "client:" in e["actor"]]
    assert by_partner and by_partner[-1]["details"]["subject_pseudonyms"] == {SUSPECT: "suspect"}
    inbox = [e for e in reads if e["details"].get("item_id") == story["item"]]
    assert inbox and inbox[-1]["actor"] == f"person:{DUTY}"
    assert inbox[-1]["recipient"] and inbox[-1]["details"]["subject_pseudonyms"]
    assert inbox[-1]["details"]["purpose"] and inbox[-1]["details"]["justification"]
    by_auditor = [e for e in reads if e["actor"] == f"person:{AUDITOR}"]
    pages = {e["details"]["via"] for e in by_auditor}
    assert "page /auditor/exchanges/{id}" in pages
    assert "GET /v1/audit/subjects/{}/report" in pages
    assert all(e["details"]["justification"] for e in by_auditor)


def test_alteration_withdrawal_and_combination_name_whom_they_concern(audited, story):
    (altered,) = _entries(audited.gateway, exchange_id=story["first"], action="alteration")
    assert altered["details"]["corrected_by"] == story["second"]
    assert altered["details"]["subject_pseudonyms"] == {SUSPECT: "suspect"}
    assert altered["details"]["justification"] and altered["details"]["client"]
    assert altered["details"]["policy_version"].startswith(HASH)
    withdrawals = _entries(audited.gateway, exchange_id=story["second"], action="withdrawal")
    assert withdrawals and all(
        w["details"]["subject_pseudonyms"] == {SUSPECT: "suspect"} and w["details"]["category"]
        for w in withdrawals
    )
    combined = [
        e
        for e in _entries(audited.gateway, action="combination")
        if e["actor"] == f"person:{AUDITOR}"
    ]
    assert combined and SUSPECT in combined[-1]["details"]["subject_pseudonyms"]
    assert story["first"] in combined[-1]["details"]["exchanges"]
    assert combined[-1]["details"]["justification"] and combined[-1]["details"]["purpose"]


def test_a_refused_attempt_names_the_request_and_why(audited, story):
    refused = _entries(audited.gateway, action="access-refused")
    assert refused
    details = refused[-1]["details"]
    assert details["path"] == "/v1/inbound/police" and details["status"] == 401
    assert details["reason"] and details["justification"]


def test_no_entry_holds_a_value_that_identifies_anyone(audited, story):
    with audited.gateway.store.engine.connect() as conn:
        texts = conn.execute(sa.select(audit_log.c.details)).scalars().all()
    assert len(texts) > 20
    for text in texts:
        for value in PERSONAL:
            assert value not in text, value
