"""Linking one person across agencies: what links, the index on both stores, the
custodian's unlink and relink, and the combination the pipeline audits."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from adapters import load_registry
from gateway.linking import (
    CatchUp,
    ReviewError,
    catch_up,
    combination_entries,
    keyed_hash,
    list_persons,
    persons_of,
    relink,
    show,
    sightings,
    unlink,
)
from gateway.linking.index import keep_indexing
from gateway.pipeline import Pipeline
from gateway.policy import load_bundle
from gateway.store.tables import audit_log, exchanges, linking_identities, linking_reviews
from tests.conftest import exchange_row

KEY = b"custodian-linking-key"
PNC, NHS, CRN = "09/123456B", "9434765919", "X123456"


def record(
    subjects: list[dict[str, Any]],
    case: str | None = None,
    sender: str = "wmp-easi",
    category: str = "crime_record",
) -> dict[str, Any]:
    return {
        "exchange_id": str(uuid.uuid4()),
        "source_partner": sender,
        "category": category,
        "case_reference": case,
        "subjects": subjects,
        "payload": {},
    }


def subject(ref: str, role: str, *ids: tuple[str, str]) -> dict[str, Any]:
    return {"ref": ref, "role": role, "identifiers": [{"system": s, "value": v} for s, v in ids]}


def person_of(conn: sa.Connection, kind: str, value: str) -> str:
    return persons_of(conn, [keyed_hash(KEY, kind, value)])[keyed_hash(KEY, kind, value)]


def keep(store, *records: dict[str, Any]) -> None:
    with store.transaction() as conn:
        for r in records:
            row = exchange_row(r["exchange_id"])
            row.update(source_partner=r["source_partner"], category=r["category"], envelope=r)
            conn.execute(exchanges.insert().values(**row))


def test_identifiers_are_normalised_and_keyed():
    spaced = sightings(record([subject("P1", "suspect", ("nhs_number", "943 476 5919"))]), KEY)
    plain = sightings(record([subject("P1", "suspect", ("nhs_number", NHS))]), KEY)
    assert spaced[0].keys == plain[0].keys
    assert NHS not in json.dumps([k.digest for k in spaced[0].keys])
    other_key = sightings(record([subject("P1", "suspect", ("nhs_number", NHS))]), b"other")
    assert other_key[0].keys != plain[0].keys


def test_local_identifiers_do_not_link_and_a_case_links_one_per_side():
    found = sightings(
        record(
            [
                subject("P1", "perpetrator", ("pnc_id", PNC), ("local", "H-1")),
                subject("V1", "victim"),
                subject("C1", "child"),
            ],
            case="MARAC-WM-0001",
        ),
        KEY,
    )
    by_ref = {s.subject_ref: s for s in found}
    assert sorted(k.kind for k in by_ref["P1"].keys) == ["case", "pnc_id"]
    assert [k.kind for k in by_ref["V1"].keys] == ["case"]
    assert by_ref["V1"].keys[0].digest not in {k.digest for k in by_ref["P1"].keys}
    assert "C1" not in by_ref  # a child is never linked by a case reference
    two_suspects = sightings(
        record([subject("P1", "suspect"), subject("P2", "suspect")], case="EASI-1"), KEY
    )
    assert two_suspects == []  # which of them the case is about is not said


def test_three_agencies_resolve_to_one_person_and_names_never_link(fresh_store):
    police = record([subject("P1", "suspect", ("pnc_id", PNC)), subject("V1", "victim")])
    referral = record(
        [subject("P1", "perpetrator", ("pnc_id", PNC), ("nhs_number", NHS))],
        sender="easi-triage-clinic",
        category="referral",
    )
    health = record(
        [subject("P1", "patient", ("nhs_number", NHS))],
        "",
        "hmpps-psychology",
        "health_information",
    )
    probation = record(
        [subject("O1", "offender", ("crn", CRN), ("pnc_id", PNC.replace("/", "/ ")))],
        sender="probation-west-midlands",
        category="risk_assessment",
    )
    stranger = record([subject("P1", "suspect", ("pnc_id", "11/999999Z"))])
    for same_name in (police["subjects"][0], stranger["subjects"][0]):
        same_name["name"] = {"given": "Lee", "family": "Carter"}
        same_name["date_of_birth"] = "1979-11-30"
    keep(fresh_store, health, police, stranger)  # the health record first: order must not matter
    done = catch_up(fresh_store, KEY)
    assert done.records == 3
    keep(fresh_store, referral, probation)
    done = catch_up(fresh_store, KEY)
    assert (done.records, done.links) == (2, 2)
    with fresh_store.engine.connect() as conn:
        one = {
            person_of(conn, k, v) for k, v in (("pnc_id", PNC), ("nhs_number", NHS), ("crn", CRN))
        }
        assert len(one) == 1
        assert person_of(conn, "pnc_id", "11/999999Z") not in one
        combinations = conn.execute(
            sa.select(audit_log.c.details).where(audit_log.c.action == "combination")
        ).all()
    assert [json.loads(d)["operation"] for (d,) in combinations] == ["index"]
    [summary] = list_persons(fresh_store)
    assert summary.identifiers == {"crn": 1, "nhs_number": 1, "pnc_id": 1}
    assert summary.partners == (
        "easi-triage-clinic",
        "hmpps-psychology",
        "probation-west-midlands",
        "wmp-easi",
    )
    assert summary.conflicts == []
    assert catch_up(fresh_store, KEY).records == 0  # nothing read twice


def test_the_custodian_unlinks_and_relinks_and_both_are_audited(fresh_store):
    # A referral that wrongly joined someone else's NHS number to this PNC ID.
    wrong = record(
        [subject("P1", "perpetrator", ("pnc_id", PNC), ("nhs_number", NHS))],
        sender="easi-triage-clinic",
        category="referral",
    )
    also = record([subject("P1", "perpetrator", ("nhs_number", NHS), ("crn", CRN))])
    keep(fresh_store, wrong, also)
    catch_up(fresh_store, KEY)
    with fresh_store.engine.connect() as conn:
        assert person_of(conn, "pnc_id", PNC) == person_of(conn, "crn", CRN)
    person = list_persons(fresh_store)[0].person
    assert {e.exchange_id for e in show(fresh_store, person)} == {
        wrong["exchange_id"],
        also["exchange_id"],
    }

    review = unlink(
        fresh_store,
        wrong["exchange_id"],
        "P1",
        "NHS number belongs to another man",
        "custodian:amy",
    )
    with fresh_store.engine.connect() as conn:
        pnc, nhs, crn = (
            person_of(conn, "pnc_id", PNC),
            person_of(conn, "nhs_number", NHS),
            person_of(conn, "crn", CRN),
        )
    assert pnc != nhs and nhs == crn  # the NHS number and CRN still meet in the other record
    assert pnc in review.persons["after"] or nhs in review.persons["after"]
    evidence = {e.exchange_id: e for e in show(fresh_store, nhs)}
    assert evidence[wrong["exchange_id"]].excluded

    with pytest.raises(ReviewError, match="already"):
        unlink(fresh_store, wrong["exchange_id"], "P1", "again", "custodian:amy")
    with pytest.raises(ReviewError, match="no sighting"):
        unlink(fresh_store, wrong["exchange_id"], "P9", "nobody", "custodian:amy")
    with pytest.raises(ReviewError, match="why"):
        relink(fresh_store, wrong["exchange_id"], "P1", "  ", "custodian:amy")

    relink(fresh_store, wrong["exchange_id"], "P1", "checked: it is him after all", "custodian:amy")
    with fresh_store.engine.connect() as conn:
        assert person_of(conn, "pnc_id", PNC) == person_of(conn, "nhs_number", NHS)
        entries = conn.execute(
            sa.select(audit_log.c.actor, audit_log.c.details, audit_log.c.exchange_id)
            .where(audit_log.c.action == "combination")
            .order_by(audit_log.c.seq)
        ).all()
        reviews = conn.execute(sa.select(linking_reviews.c.operation)).scalars().all()
        stored = conn.execute(sa.select(linking_identities.c.id_hash)).scalars().all()
    operations = [json.loads(d)["operation"] for _, d, _ in entries]
    assert operations == ["index", "unlink", "relink"]
    assert entries[1][0] == "custodian:amy" and entries[1][2] == wrong["exchange_id"]
    assert json.loads(entries[1][1])["justification"] == "NHS number belongs to another man"
    assert sorted(reviews) == ["relink", "unlink"]
    assert not {PNC, NHS, CRN} & set(stored)  # keyed hashes only, never the identifiers


def test_the_pipeline_audits_a_combination_when_the_record_arrives(fresh_store):
    bundle = load_bundle("policies/west-midlands-easi")
    pipeline = Pipeline(
        registry=load_registry(),
        store=fresh_store,
        policy=lambda: bundle,
        topic_prefix="test",
        pseudonym_key=b"k",
        linking_key=KEY,
    )
    body = {
        "format": "probation-spoc/1",
        "event": "rosh_change",
        "purpose": "compliance-monitoring",
        "pdu": "Birmingham North",
        "offender": {"crn": CRN, "pnc_id": PNC, "forename": "Lee", "surname": "Carter"},
        "rosh": {"level": "high", "assessed": "2026-10-01T09:00:00Z"},
    }
    submission = pipeline.submit(
        "probation", json.dumps(body).encode(), "application/json", "probation-west-midlands"
    )
    exchange_id = submission.items[0].exchange_id
    with fresh_store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(audit_log.c.actor, audit_log.c.details).where(
                audit_log.c.exchange_id == exchange_id, audit_log.c.action == "combination"
            )
        ).all()
    [(actor, details)] = rows
    assert actor == "gateway"
    assert json.loads(details)["subjects"][0]["identifiers"] == ["crn", "pnc_id"]
    assert CRN not in details and PNC not in details


def test_without_a_key_nothing_is_combined():
    linked = record([subject("P1", "suspect", ("pnc_id", PNC), ("crn", CRN))])
    assert combination_entries(linked, "gateway", b"") == []
    single = record([subject("P1", "suspect", ("pnc_id", PNC))])
    assert combination_entries(single, "gateway", KEY) == []
    assert len(combination_entries(linked, "gateway", KEY, datetime.now(UTC).isoformat())) == 1


def test_two_catch_ups_at_once_index_each_record_once(fresh_store):
    people = [
        record([subject("P1", "suspect", ("pnc_id", f"10/{i:06d}A"), ("crn", f"X{i:06d}"))])
        for i in range(600)
    ]
    keep(fresh_store, *people)
    results: list[object] = []

    def run() -> None:
        try:
            results.append(catch_up(fresh_store, KEY, batch=50))
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert all(isinstance(r, CatchUp) for r in results), results
    assert sum(r.records for r in results) == 600  # type: ignore[attr-defined]
    with fresh_store.engine.connect() as conn:
        assert person_of(conn, "pnc_id", "10/000007A") == person_of(conn, "crn", "X000007")
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(linking_identities)).scalar()
            == 1200
        )


def test_the_index_keeps_itself_up_to_date_in_the_background(fresh_store):
    stop = threading.Event()
    worker = threading.Thread(target=keep_indexing, args=(fresh_store, KEY, stop, 0.05))
    worker.start()
    try:
        keep(fresh_store, record([subject("P1", "suspect", ("pnc_id", PNC), ("crn", CRN))]))
        deadline = time.monotonic() + 10
        found: dict[str, str] = {}
        while not found and time.monotonic() < deadline:
            with fresh_store.engine.connect() as conn:
                found = persons_of(conn, [keyed_hash(KEY, "crn", CRN)])
            time.sleep(0.05)
        assert found
    finally:
        stop.set()
        worker.join(timeout=10)
    assert not worker.is_alive()
