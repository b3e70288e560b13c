"""Benchmark the policy engine: decision time per (exchange, recipient), minimisation per record.

Runs against the larger sample agreement (Cheshire HRU) with every exchange its
policy tests use, so the mix of permits, denies, conditions, consent checks and
transforms is the agreement's own. Usage::

    .venv/bin/python bench/bench_policy.py [--rounds N]
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from contracts import Exchange  # noqa: E402
from gateway.policy import load_bundle, minimise_for  # noqa: E402
from gateway.policy.engine import decide, decide_for  # noqa: E402
from gateway.policy.tools.suite import build_fixture, load_suite, suite_files  # noqa: E402

POLICY = ROOT / "policies" / "cheshire-hru"
BATCH = 50  # calls per timing sample, so the clock's own cost is negligible
KEY = b"benchmark-key"


def exchanges() -> list[Exchange]:
    found = []
    for path in suite_files(POLICY / "tests"):
        suite = load_suite(path)
        found += [Exchange.model_validate(build_fixture(n, suite.fixtures)) for n in suite.fixtures]
    return found


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def time_batch(call, *args) -> float:
    start = time.perf_counter_ns()
    for _ in range(BATCH):
        call(*args)
    return (time.perf_counter_ns() - start) / BATCH / 1000  # microseconds per call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200, help="timing samples per pair")
    rounds = parser.parse_args().rounds

    bundle = load_bundle(POLICY)
    cases = exchanges()
    pairs = [
        (exchange, recipient)
        for exchange in cases
        for recipient in bundle.candidates(exchange.source_partner)
    ]
    records = []
    for exchange in cases:
        record = exchange.model_dump(mode="json")
        records += [(d, record) for d in decide(bundle, exchange) if d.permitted]

    gc.disable()
    decision_us = []
    for _ in range(rounds):
        for exchange, recipient in pairs:
            restricted = any(s.access is not None for s in exchange.subjects)
            today = date(2026, 6, 1)
            decision_us.append(
                time_batch(decide_for, bundle, exchange, recipient, today, restricted)
            )
    minimise_us = []
    for _ in range(rounds):
        for decision, record in records:
            minimise_us.append(time_batch(minimise_for, decision, record, KEY))
    gc.enable()

    print(
        f"policy: {bundle.agreement_id} {bundle.agreement_version}: {len(bundle.parties)} parties, "
        f"{len(bundle.flows)} flows, {len(bundle.index)} compiled keys"
    )
    print(
        f"python {platform.python_version()} on {platform.machine()}, "
        f"{len(cases)} exchanges, {len(pairs)} (exchange, recipient) pairs, "
        f"{len(records)} permitted records, {rounds} rounds x {BATCH} calls"
    )
    print(
        f"decision per (exchange, recipient): median {statistics.median(decision_us):.2f} us, "
        f"p99 {percentile(decision_us, 99):.2f} us"
    )
    print(
        f"minimisation per record:           median {statistics.median(minimise_us):.2f} us, "
        f"p99 {percentile(minimise_us, 99):.2f} us"
    )


if __name__ == "__main__":
    main()
