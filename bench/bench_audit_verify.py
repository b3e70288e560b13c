"""How fast ``gateway audit verify`` checks the audit trail, and in how much memory.

A store (SQLite, or PostgreSQL with ``--database-url``) is filled with
``--entries`` sealed ``jcs-sha256`` entries shaped like the pipeline's (per
exchange: a collection, two disclosures with their paths, a refusal listing
refused parties, two transmissions) and a checkpoint is signed over them. A
fresh process then verifies it as ``gateway audit verify`` does
(``gateway.audit.checkpoints.verify_store``: the streaming hash pass, the
columns-against-bytes check, the checkpoints) and, in the same run, hashes the
very bytes each entry's hash covers with bare SHA-256 from memory, the ceiling.
Usage::

    .venv/bin/python bench/bench_audit_verify.py [--entries 1000000]
        [--database-url postgresql+psycopg:///isg_bench]

Prints entries/s for the whole verify, for the hash pass alone and for bare
SHA-256, the verifying process's peak RSS and tracemalloc's peak for one more
verify. Target: at least 1,000,000 entries/s, memory flat in the log's length.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.audit import AuditEntry  # noqa: E402
from gateway.audit.chain import chain_rows  # noqa: E402
from gateway.audit.signing import load_keys  # noqa: E402
from gateway.store import Store  # noqa: E402

PATHS = [
    "subjects[0].name",
    "subjects[0].date_of_birth",
    "subjects[0].address.postcode",
    "payload.crime.offence.code",
    "payload.crime.offence.date",
    "payload.risk.level",
]


def exchange_entries(n: int) -> list[AuditEntry]:
    exchange_id = f"01900000-0000-7000-8000-{n:012d}"
    decided = {
        "purpose": "stalking-risk-management",
        "lawful_basis": "DPA 2018 s35(2)(b)",
        "rules": ["stalking-risk-to-probation", "need-to-know"],
        "policy_version": "2026.5",
        "agreement_version": "3",
        "effect": "permit",
    }
    entries = [
        AuditEntry(
            action="collection",
            actor="cheshire-police",
            exchange_id=exchange_id,
            details={
                "format": "police",
                "category": "crime_record",
                "purpose": "stalking-risk-management",
                "purposes": ["stalking-risk-management"],
                "urgency": "routine",
                "subjects": 1,
                "client": "cheshire-police-rms",
            },
        )
    ]
    for recipient in ("probation-spoc-north", "mersey-care-idva"):
        entries.append(
            AuditEntry(
                action="disclosure",
                actor="cheshire-police",
                recipient=recipient,
                exchange_id=exchange_id,
                details={**decided, "disclosed": PATHS, "removed": ["payload.crime.summary"]},
            )
        )
    entries.append(
        AuditEntry(
            action="refusal",
            actor="cheshire-police",
            exchange_id=exchange_id,
            details={
                "purposes": ["stalking-risk-management"],
                "policy_version": "2026.5",
                "refused": [
                    {"recipient": f"party-{i}", "rules": ["default-deny"]} for i in range(4)
                ],
            },
        )
    )
    for recipient in ("probation-spoc-north", "mersey-care-idva"):
        entries.append(
            AuditEntry(
                action="transmission",
                actor="gateway",
                recipient=recipient,
                exchange_id=exchange_id,
                details={"channel": "kafka", "delivery_id": exchange_id, "offset": n},
            )
        )
    return entries


def build(url: str, entries: int, data_dir: Path) -> None:
    from gateway.audit.checkpoints import take_checkpoint

    store = Store.from_url(url)
    store.upgrade()
    keys = load_keys(None, [], data_dir)
    key = keys.current
    assert key is not None
    seq, prev = 0, "0" * 64
    started = time.perf_counter()
    n = 0
    while seq < entries:
        batch: list[AuditEntry] = []
        while len(batch) < 6000 and seq + len(batch) < entries:
            batch += exchange_entries(n)
            n += 1
        batch = batch[: entries - seq]
        rows, head = chain_rows(batch, seq, prev, key.seal)
        with store.transaction() as conn:
            from gateway.store.tables import audit_head, audit_log

            if conn.dialect.name == "postgresql":
                from gateway.store import postgres

                postgres.insert_rows(conn, audit_log, rows)
            else:
                conn.execute(audit_log.insert(), rows)
            conn.execute(
                audit_head.update()
                .where(audit_head.c.id == 1)
                .values(seq=head["new_seq"], hash=head["new_hash"])
            )
        seq, prev = head["new_seq"], head["new_hash"]
    took = time.perf_counter() - started
    print(f"built {entries} entries in {took:.1f} s", flush=True)
    started = time.perf_counter()
    take_checkpoint(store, keys)
    print(f"checkpoint signed over them in {time.perf_counter() - started:.1f} s", flush=True)
    store.engine.dispose()


def measure(url: str, data_dir: Path) -> dict[str, float]:
    """In a fresh process: verify, the hash pass alone, bare SHA-256, memory."""
    from gateway.audit.checkpoints import verify_store
    from gateway.audit.verify import (
        BATCH,
        GENESIS,
        batched_cursor,
        columns_mismatch,
        hash_pass,
        snapshot,
    )

    store = Store.from_url(url)
    keys = load_keys(None, [], data_dir, create=False)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    report = verify_store(store.engine, keys, check_decisions=False)
    whole = time.perf_counter() - started
    assert report.ok, report.finding
    entries = report.chain.entries
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with snapshot(store.engine) as conn:
        started = time.perf_counter()
        last_seq, _, broke = hash_pass(conn, 0, GENESIS, set(), {})
        hash_only = time.perf_counter() - started
        assert broke is None and last_seq == entries
        started = time.perf_counter()
        assert columns_mismatch(conn, 0, last_seq) is None
        columns_only = time.perf_counter() - started
        # bare SHA-256 over the same bytes (prev_hash || canonical), timed from memory
        hashing = 0.0
        sha256 = hashlib.sha256
        sql = "SELECT prev_hash, canonical FROM audit_log ORDER BY seq"
        with batched_cursor(conn, sql, ()) as cursor:
            while batch := cursor.fetchmany(BATCH):
                inputs = [p.encode() + c for p, c in batch]
                t = time.perf_counter()
                for data in inputs:
                    sha256(data).digest()
                hashing += time.perf_counter() - t
    tracemalloc.start()
    verify_store(store.engine, keys, check_decisions=False)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    store.engine.dispose()
    return {
        "entries": entries,
        "verify_per_s": entries / whole,
        "hash_pass_per_s": entries / hash_only,
        "columns_per_s": entries / columns_only,
        "bare_sha256_per_s": entries / hashing,
        "rss_before_mb": rss_before / 1024,
        "rss_peak_mb": rss_after / 1024,
        "tracemalloc_peak_mb": traced_peak / 2**20,
        "verify_seconds": whole,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--measure", nargs=2, metavar=("URL", "DATA_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure[0], Path(args.measure[1]))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        build(url, args.entries, data_dir)
        out = subprocess.run(
            [sys.executable, __file__, "--measure", url, str(data_dir)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    print(
        f"store: {'PostgreSQL' if args.database_url else 'SQLite'}, {figures['entries']} entries\n"
        f"gateway audit verify (verify_store): {figures['verify_per_s']:,.0f} entries/s "
        f"({figures['verify_seconds']:.2f} s)\n"
        f"  the streaming hash pass alone:     {figures['hash_pass_per_s']:,.0f} entries/s\n"
        f"  the columns against the bytes:     {figures['columns_per_s']:,.0f} entries/s\n"
        f"  bare SHA-256 of the same bytes:    {figures['bare_sha256_per_s']:,.0f} entries/s "
        "(the ceiling)\n"
        f"memory: peak RSS {figures['rss_peak_mb']:.0f} MB "
        f"({figures['rss_before_mb']:.0f} MB before verifying); "
        f"tracemalloc peak {figures['tracemalloc_peak_mb']:.1f} MB"
    )


if __name__ == "__main__":
    main()
