"""The same export on PostgreSQL: a smaller partnership, the same truth recovered."""

from __future__ import annotations

import csv
from pathlib import Path

from adapters import load_registry
from gateway.evaluation import export_cohort
from gateway.evaluation.synthetic import Rates, partnership, submit
from gateway.linking import list_persons, show
from gateway.pipeline import Pipeline
from gateway.policy import load_bundle
from gateway.store import Store
from tests.evaluation.conftest import AS_OF, KEY, WEST_MIDLANDS


def test_an_export_from_postgresql_recovers_the_truth(store_url_factory, tmp_path: Path):
    store = Store.from_url(store_url_factory("postgresql"))
    store.upgrade()
    try:
        bundle = load_bundle(WEST_MIDLANDS)
        pipeline = Pipeline(
            registry=load_registry(),
            store=store,
            policy=lambda: bundle,
            topic_prefix="test",
            pseudonym_key=b"k",
            linking_key=KEY,
        )
        truth, records = partnership(Rates(people=40), seed=7)
        assert submit(pipeline, records) == len(records)
        done = export_cohort(store, bundle, "easi-2024", KEY, tmp_path / "pg", "c", as_of=AS_OF)
        assert done.people == 40 and done.records_permitted == len(records)
        with (tmp_path / "pg" / "measures.csv").open() as f:
            measures = {r["group"]: r for r in csv.DictReader(f)}
        # 25 completed (2 reoffended), 15 not (6 within 12 months, 3 within 6), 40 in all.
        assert [truth.count(g, m) for g in ("completed", "not completed") for m in (6, 12)] == [
            (25, 2),
            (25, 2),
            (15, 3),
            (15, 6),
        ]
        completed, not_completed, everyone = (
            measures["completed"],
            measures["not completed"],
            measures["all"],
        )
        assert (completed["people"], not_completed["people"], everyone["people"]) == (
            "25",
            "15",
            "40",
        )
        assert completed["reoffended_12m"] == "" and not_completed["reoffended_6m"] == ""  # < 5
        assert not_completed["reoffended_12m"] == "6"
        assert everyone["reoffended_12m"] == ""  # 8 - 6 would reveal the completers' 2
        assert everyone["reoffended_6m"] == "5"  # both groups hidden: no subtraction gives either
        assert measures["no intervention recorded"]["people"] == "0"  # a zero is shown
        person = list_persons(store, limit=1)[0]
        assert len(show(store, person.person)) >= 3  # police, referral, health at least
    finally:
        store.engine.dispose()
