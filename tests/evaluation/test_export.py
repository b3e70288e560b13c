"""The evaluation export recovers what the synthetic partnership was built with,
shows nobody's identity, follows one person across three agencies, and is
governed (decided, minimised, audited) like every other flow."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from adapters import load_registry
from contracts import SubjectRole
from gateway.evaluation import EvaluationError, export_cohort, pseudonym
from gateway.evaluation.synthetic import Record, submit
from gateway.linking import keyed_hash, persons_of, relink, unlink
from gateway.pipeline import Pipeline
from gateway.store.tables import audit_log, exchanges
from tests.evaluation.conftest import AS_OF, KEY, World

GROUPS = ("completed", "not completed", "no intervention recorded")


def rows(out: Path, table: str) -> list[dict[str, str]]:
    with (out / f"{table}.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_the_measures_recover_the_rates_built_in(world: World):
    measures = {r["group"]: r for r in rows(world.out, "measures")}
    for group in ("completed", "not completed"):
        for months in (6, 12):
            people, reoffended = world.truth.count(group, months)
            row = measures[group]
            assert int(row["people"]) == people
            assert int(row[f"followed_{months}m"]) == people  # every window has passed
            assert int(row[f"reoffended_{months}m"]) == reoffended
            assert float(row[f"rate_{months}m"]) == round(reoffended / people, 4)
    # Built with 15% and 40% within 12 months: the export shows it, give or take chance.
    assert 0.08 < float(measures["completed"]["rate_12m"]) < 0.24
    assert 0.28 < float(measures["not completed"]["rate_12m"]) < 0.52
    charged = sum(
        1
        for p in world.truth.people
        if p.first_disposal == "charge" and world.truth.reoffended(p, 12)
    )
    assert (
        int(measures["completed"]["charges_12m"]) + int(measures["not completed"]["charges_12m"])
        >= charged
    )


def test_small_numbers_are_suppressed_and_a_total_cannot_reveal_them(world: World):
    small, _ = world.truth.count("no intervention recorded", 12)
    assert 0 < small < 5
    measures = {r["group"]: r for r in rows(world.out, "measures")}
    hidden = measures["no intervention recorded"]
    assert hidden["people"] == "" and hidden["followed_12m"] == ""
    counts = [c for c in hidden if c not in ("group", "rate_6m", "rate_12m")]
    assert all(hidden[c] in ("", "0") for c in counts)  # 1-4 never shown; a zero may be
    assert hidden["rate_12m"] == ""  # derived from a suppressed denominator
    assert measures["all"]["people"] == ""  # else all - completed - not completed = it
    assert measures["all"]["reoffended_12m"] == ""
    notes = rows(world.out, "suppression")
    reasons = {(n["group"], n["column"]): n["reason"] for n in notes}
    assert reasons[("no intervention recorded", "people")] == "primary: under 5"
    assert reasons[("all", "people")].startswith("secondary")
    assert reasons[("all", "rate_12m")] == "derived from suppressed reoffended_12m"
    assert all(n["reason"] for n in notes) and len(notes) == len(world.exported.suppressed)
    parquet = pq.read_table(world.out / "measures.parquet").to_pylist()
    assert next(r for r in parquet if r["group"] == "all")["people"] is None


def test_a_higher_threshold_suppresses_more(world: World, tmp_path: Path):
    done = export_cohort(
        world.store,
        world.bundle,
        "easi-2024",
        KEY,
        tmp_path / "strict",
        "custodian:test",
        as_of=AS_OF,
        threshold=20,
    )
    measures = {r["group"]: r for r in rows(tmp_path / "strict", "measures")}
    assert measures["completed"]["reoffended_6m"] == ""  # fewer than 20
    assert len(done.suppressed) > len(world.exported.suppressed)


def _identities(world: World) -> tuple[set[str], set[str], set[str]]:
    """(identifying strings that must never appear; names, that must be no cell's
    value (a surname such as West is also a word); exact dates of birth)."""
    strings: set[str] = set()
    names: set[str] = set()
    dates: set[str] = set()
    for record in world.records:
        envelope: dict[str, Any] = record.exchange.model_dump(mode="json")
        if envelope.get("case_reference"):
            strings.add(envelope["case_reference"])
        for s in envelope["subjects"]:
            strings.update(i["value"] for i in s["identifiers"])
            if s.get("name"):
                names.update(v for v in s["name"].values() if v)
                strings.add(f"{s['name']['given']} {s['name']['family']}")
            if s.get("address"):
                strings.update(s["address"]["lines"])
                strings.add(s["address"]["postcode"])
            if s.get("date_of_birth"):
                dates.add(s["date_of_birth"])
    return strings, names, dates


def _cells(out: Path) -> set[str]:
    cells: set[str] = set()
    for p in out.glob("*.csv"):
        with p.open(encoding="utf-8") as f:
            for row in csv.reader(f):
                cells.update(v.strip() for v in row)
    for p in out.glob("*.parquet"):
        for row in pq.read_table(p).to_pylist():
            cells.update(str(v) for v in row.values())
    return cells


def _texts(out: Path) -> dict[str, str]:
    texts = {p.name: p.read_text(encoding="utf-8") for p in out.iterdir() if p.suffix != ".parquet"}
    for p in out.glob("*.parquet"):
        texts[p.name] = json.dumps(pq.read_table(p).to_pylist(), default=str)
        texts[p.name + " (bytes)"] = p.read_bytes().decode("latin-1")
    return texts


def test_no_identifier_name_address_or_date_of_birth_appears_in_any_file(world: World):
    strings, names, dates = _identities(world)
    assert len(strings) > 1000 and len(names) > 200 and len(dates) > 300
    assert _cells(world.out) & names == set()
    texts = _texts(world.out)
    assert {"people.csv", "people.parquet", "data_dictionary.md", "manifest.json"} <= set(texts)
    for name, text in texts.items():
        leaked = [s for s in strings if s in text]
        assert leaked == [], f"{name} shows {leaked[:3]}"
        if name != "manifest.json":  # its as_of is the export's own date
            exact = re.findall(r"\b\d{4}-\d{2}-\d{2}\b", text)
            assert exact == [], f"{name} shows exact dates {exact[:3]}"
        assert not any(d in text for d in dates)
    months = {r["entered_month"] for r in rows(world.out, "people")}
    assert all(re.fullmatch(r"2024-\d{2}", m) for m in months)
    bands = {r["age_band"] for r in rows(world.out, "people")}
    assert bands <= {"18-24", "25-34", "35-44", "45-54", "55+"} and len(bands) > 2


def test_one_person_across_three_agencies_carries_one_pseudonym(world: World):
    on_probation = next(p for p in world.truth.people if p.crn and p.completed)
    with world.store.engine.connect() as conn:
        digests = [
            keyed_hash(KEY, "pnc_id", on_probation.pnc_id),
            keyed_hash(KEY, "nhs_number", on_probation.nhs_number),
            keyed_hash(KEY, "crn", on_probation.crn),
        ]
        persons = set(persons_of(conn, digests).values())
    assert len(persons) == 1
    who = pseudonym(KEY, "derby-evaluation", persons.pop())
    risk = [r for r in rows(world.out, "risk") if r["person"] == who]
    assert {r["agency"] for r in risk} >= {"wmp-easi", "probation-west-midlands"}  # SASH, RoSH
    [treated] = [r for r in rows(world.out, "interventions") if r["person"] == who]
    assert treated["provider"] in ("hmpps-psychology", "fpc-ltd") and treated["completed"] == "true"
    [person] = [r for r in rows(world.out, "people") if r["person"] == who]
    assert set(person["agencies"].split(";")) >= {"police", "probation", "psychology-service"}
    assert len([r for r in rows(world.out, "reviews") if r["person"] == who]) == 4
    # The same name given to two different people does not make them one.
    first, second = world.truth.people[0], world.truth.people[1]
    assert (first.given, first.family) == (second.given, second.family)
    with world.store.engine.connect() as conn:
        a = persons_of(conn, [keyed_hash(KEY, "pnc_id", first.pnc_id)])
        b = persons_of(conn, [keyed_hash(KEY, "pnc_id", second.pnc_id)])
    assert set(a.values()) != set(b.values())


def test_police_records_after_the_index_date_carry_their_month(world: World):
    reoffender = next(p for p in world.truth.people if p.completed and p.reoffences)
    with world.store.engine.connect() as conn:
        digest = keyed_hash(KEY, "pnc_id", reoffender.pnc_id)
        who = pseudonym(KEY, "derby-evaluation", persons_of(conn, [digest])[digest])
    later = [
        r
        for r in rows(world.out, "police_records")
        if r["person"] == who
        and r["event"] in ("offence", "breach")
        and int(r["months_from_index"]) >= 0
    ]
    assert len(later) == len(reoffender.reoffences)
    disposals = [
        r
        for r in rows(world.out, "police_records")
        if r["person"] == who and r["event"] in ("charge", "caution")
    ]
    assert disposals[0]["detail"] == reoffender.first_disposal


def test_the_export_is_decided_minimised_and_audited(world: World):
    with world.store.engine.connect() as conn:
        entries = conn.execute(
            sa.select(audit_log.c.actor, audit_log.c.recipient, audit_log.c.details)
            .where(audit_log.c.action == "disclosure", audit_log.c.exchange_id.is_(None))
            .order_by(audit_log.c.seq)
        ).all()
    mine = [
        (a, r, json.loads(d)) for a, r, d in entries if json.loads(d).get("cohort") == "easi-2024"
    ]
    actor, recipient, details = mine[0]
    assert (actor, recipient) == ("custodian:test", "derby-evaluation")
    assert details["rules"] == ["evaluation-export"]
    assert details["purpose"] == "linked-outcome-evaluation"
    assert details["lawful_basis"] == "gdpr-public-task"
    assert details["records_permitted"] == len(world.records)
    for name, digest in details["files"].items():
        assert hashlib.sha256((world.out / name).read_bytes()).hexdigest() == digest
    assert not [p for p in details["disclosed"] if "identifiers" in p or "name" in p]
    manifest = json.loads((world.out / "manifest.json").read_text())
    assert manifest["audit_entry"] == world.exported.audit_entry
    dictionary = rows(world.out, "data_dictionary")
    tables = {d["table"] for d in dictionary}
    assert tables == {
        "people",
        "referrals",
        "interventions",
        "risk",
        "reviews",
        "police_records",
        "measures",
        "suppression",
    }
    for table in tables - {"suppression"}:
        with (world.out / f"{table}.csv").open() as f:
            header = next(csv.reader(f))
        assert header == [d["column"] for d in dictionary if d["table"] == table]


def test_a_refused_record_is_counted_not_exported(world: World, tmp_path: Path):
    person = world.truth.people[3]
    offence = next(
        r
        for r in world.records
        if r.fmt == "police" and r.exchange.subjects[0].identifiers[0].value == person.pnc_id
    )
    with_child = offence.exchange.model_copy(deep=True)
    with_child.subjects[1].role = SubjectRole.CHILD
    pipeline = Pipeline(
        registry=load_registry(),
        store=world.store,
        policy=lambda: world.bundle,
        topic_prefix="test",
        pseudonym_key=b"k",
        linking_key=KEY,
    )
    assert submit(pipeline, [Record("police", with_child)]) == 1
    done = export_cohort(
        world.store,
        world.bundle,
        "easi-2024",
        KEY,
        tmp_path / "again",
        "custodian:test",
        as_of=AS_OF,
    )
    assert done.records_refused == {"children-never-to-evaluation": 1}
    assert done.records_permitted == world.exported.records_permitted


def test_an_unknown_cohort_or_a_used_directory_is_refused(world: World, tmp_path: Path):
    with pytest.raises(EvaluationError, match=r"no cohort 'easi-1999'.*easi-2024"):
        export_cohort(world.store, world.bundle, "easi-1999", KEY, tmp_path / "x", "c")
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("mine")
    with pytest.raises(EvaluationError, match="not an empty directory"):
        export_cohort(world.store, world.bundle, "easi-2024", KEY, tmp_path / "used", "c")


def test_an_unlinked_referral_enters_nobody_and_a_relink_restores_the_person(
    world: World, tmp_path: Path
):
    person = world.truth.people[150]
    with world.store.engine.connect() as conn:
        [exchange_id] = (
            conn.execute(
                sa.select(exchanges.c.exchange_id).where(
                    exchanges.c.case_reference == person.case_reference,
                    exchanges.c.source_partner == "easi-triage-clinic",
                )
            )
            .scalars()
            .all()
        )
    unlink(world.store, exchange_id, "P1", "the NHS number is another man's", "custodian:test")
    try:
        done = export_cohort(
            world.store,
            world.bundle,
            "easi-2024",
            KEY,
            tmp_path / "unlinked",
            "custodian:test",
            as_of=AS_OF,
        )
        assert done.unlinkable_subjects == 1
        assert done.people == world.exported.people - 1
    finally:
        relink(world.store, exchange_id, "P1", "checked: it is him", "custodian:test")
    again = export_cohort(
        world.store,
        world.bundle,
        "easi-2024",
        KEY,
        tmp_path / "relinked",
        "custodian:test",
        as_of=AS_OF,
    )
    assert again.people == world.exported.people
    assert rows(tmp_path / "relinked", "people") == rows(world.out, "people")
