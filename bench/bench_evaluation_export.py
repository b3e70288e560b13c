"""Exporting one evaluation cohort from a store of 100,000 exchanges.

A synthetic partnership (``gateway.evaluation.synthetic``: police, health,
probation and MARAC records with known links, 16,400 people referred over
four years) is written straight into a real store (SQLite, or PostgreSQL with
``--database-url``) as the pipeline stores records: the export reads the
store, not the broker. Then, timed apart:

1. the custodian's linking index reads every record once (``catch_up``; in a
   running gateway this happens as records arrive);
2. the export of the 2024 cohort (a quarter of the people and their records):
   each record decided and minimised under the export flow, the measures,
   suppression, Parquet and CSV files and the audit entry.

Usage::

    .venv/bin/python bench/bench_evaluation_export.py [--exchanges 100000]
        [--database-url postgresql+psycopg:///isg_bench]

Prints each step's seconds, and the export's CPU seconds in this process (the
rest is the database, and other processes on a shared machine). Target: the
export (2) in at most 10 s. Needs ``faker`` (a development dependency).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway import jsontext  # noqa: E402
from gateway.evaluation import export_cohort  # noqa: E402
from gateway.evaluation.synthetic import Rates, partnership  # noqa: E402
from gateway.linking import catch_up  # noqa: E402
from gateway.policy import load_bundle  # noqa: E402
from gateway.store import Store  # noqa: E402
from gateway.store.tables import INSERT_EXCHANGES  # noqa: E402

KEY = b"bench-linking-key"
#: Records the generator makes per person, on average (about 6.1).
PER_PERSON = 6.1


def fill(store: Store, exchanges: int) -> int:
    people = int(exchanges / PER_PERSON) + 1
    _, records = partnership(Rates(people=people, years=4), start=date(2023, 1, 1))
    records = records[:exchanges]
    rows = []
    for r in records:
        e = r.exchange
        rows.append(
            {
                "exchange_id": str(e.exchange_id),
                "source_partner": e.source_partner,
                "format": r.fmt,
                "category": str(e.category),
                "purpose": e.purpose or "",
                "urgency": str(e.urgency),
                "case_reference": e.case_reference,
                "submitted_at": e.submitted_at,
                "policy_version": "bench",
                "envelope": jsontext.dumps(e.model_dump(mode="json")),
                "decisions": "[]",
            }
        )
    for start in range(0, len(rows), 5000):
        with store.transaction() as conn:
            conn.execute(INSERT_EXCHANGES, rows[start : start + 5000])
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exchanges", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-evaluation-"))
    store = Store.from_url(args.database_url or f"sqlite:///{workdir / 'gateway.db'}")
    store.upgrade()
    bundle = load_bundle(ROOT / "policies" / "west-midlands-easi")

    started = time.perf_counter()
    kept = fill(store, args.exchanges)
    print(f"store: {kept} exchanges on {store.dialect} in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    indexed = catch_up(store, KEY)
    print(
        f"linking index: {indexed.records} records, {indexed.links} links, "
        f"{indexed.merged} merges in {time.perf_counter() - started:.2f} s"
    )

    started, cpu = time.perf_counter(), time.process_time()
    done = export_cohort(
        store, bundle, "easi-2024", KEY, workdir / "export", "bench", as_of=date(2026, 6, 1)
    )
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(
        f"export easi-2024: {done.people} people, {done.records_permitted} records decided "
        f"and permitted, {sum(done.records_refused.values())} refused, "
        f"{len(done.suppressed)} cells suppressed, in {took:.2f} s (target 10 s), "
        f"{cpu:.2f} s of this process's CPU"
    )
    store.engine.dispose()


if __name__ == "__main__":
    main()
