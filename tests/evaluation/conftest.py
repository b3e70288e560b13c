"""A partnership's worth of synthetic records, sent through the real adapters and
pipeline into a real store once for these tests, and exported."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from adapters import load_registry
from gateway.evaluation import Exported, export_cohort
from gateway.evaluation.synthetic import Rates, Record, Truth, partnership, submit
from gateway.pipeline import Pipeline
from gateway.policy import PolicyBundle, load_bundle
from gateway.store import Store

WEST_MIDLANDS = Path("policies/west-midlands-easi")
KEY = b"evaluation-test-linking-key"
#: Every follow-up window of the 2024 cohort has passed by then.
AS_OF = date(2026, 6, 1)
#: 200 people: a few with no intervention recorded, so suppression shows.
RATES = Rates(people=200, no_intervention_every=50)


@dataclass
class World:
    store: Store
    url: str
    bundle: PolicyBundle
    truth: Truth
    records: list[Record]
    out: Path
    exported: Exported


@pytest.fixture(scope="package")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("evaluation")
    url = f"sqlite:///{base / 'gateway.db'}"
    store = Store.from_url(url)
    store.upgrade()
    bundle = load_bundle(WEST_MIDLANDS)
    pipeline = Pipeline(
        registry=load_registry(),
        store=store,
        policy=lambda: bundle,
        topic_prefix="test",
        pseudonym_key=b"recipient-pseudonym-key",
        linking_key=KEY,
    )
    truth, records = partnership(RATES)
    assert submit(pipeline, records) == len(records)
    out = base / "export"
    exported = export_cohort(store, bundle, "easi-2024", KEY, out, "custodian:test", as_of=AS_OF)
    yield World(store, url, bundle, truth, records, out, exported)
    store.engine.dispose()
