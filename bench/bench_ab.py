"""Two checkouts' CPU per exchange under the same load, both loaded at once.

These machines' speed drifts by up to a third within minutes, so a
``bench_delivery.py`` run before a change and one after cannot show a gain of
10 %: identical code measured twice in a row differed by that much. Here both
gateways run at once (each its own ``gateway serve``, database and topic
prefix, one broker), and each round loads both at once, whose load starts first
alternating (A B, B A, A B ...). Each round is counted until its last message is
on the recipient's topic; a round's CPU is every process's (API workers, relay,
broker, PostgreSQL's backends, the load client) over its exchanges. What
drifts affects both alike, so the per-round ratio B/A is steady where the
absolute figures are not.

The gateway runs from each checkout (``PYTHONPATH``); make the other with
``git worktree add /tmp/old COMMIT``. Usage::

    .venv/bin/python bench/bench_ab.py --other /tmp/old [--this .] [--store postgresql]
        [--rounds 6] [--requests 1000] [--concurrency 32] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import bench_delivery as bd  # noqa: E402


@dataclass
class Gateway:
    """One checkout's gateway, started and warmed up, with its topic's watcher."""

    label: str
    url: str
    pid: int
    database: str | None  # PostgreSQL's database name; None on SQLite
    watcher: bd.DeliveryWatcher
    next_body: int = 0

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of this gateway's processes and database backends."""
        used = {"relay": bd.proc_cpu(self.pid), "API workers": bd.children_cpu(self.pid)}
        if self.database is not None:
            used["postgres backends"] = sum(bd.proc_cpu(p) for p in backends(self.database))
        return used


def backends(database: str) -> list[int]:
    """The server processes connected to ``database`` now."""
    import sqlalchemy as sa

    admin = sa.create_engine(bd.PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT pid FROM pg_stat_activity WHERE datname = :name"),
                {"name": database},
            )
            return [row[0] for row in rows]
    finally:
        admin.dispose()


def start(
    label: str, tree: Path, store: str, broker: bd.EmbeddedBroker, workdir: Path, stack: ExitStack
) -> Gateway:
    data_dir = workdir / label
    data_dir.mkdir()
    database: str | None = None
    if store == "sqlite":
        database_url = f"sqlite:///{data_dir / 'gateway.db'}"
    else:
        database_url = stack.enter_context(bd.postgres_database())
        database = database_url.rsplit("/", 1)[1]
    prefix = f"ab{label}{uuid.uuid4().hex[:6]}"
    url, process, watcher = bd.start_gateway(
        stack, data_dir, database_url, broker, prefix, WORKERS, tree
    )
    return Gateway(label, url, process.pid, database, watcher)


async def _load_both(
    gateways: list[Gateway], requests: int, concurrency: int
) -> list[list[bd.Sample]]:
    loads = []
    for gateway in gateways:
        payloads = bd.bodies(requests, first=gateway.next_body)
        gateway.next_body += requests
        loads.append(bd._load(gateway.url, payloads, concurrency, 600, "raw"))
    return list(await asyncio.gather(*loads))


def one_round(gateways: list[Gateway], requests: int, concurrency: int) -> list[dict[str, float]]:
    """Load every gateway at once with ``requests`` exchanges; per gateway, the CPU
    ms an exchange of its processes, counted until every message is delivered."""
    before = [g.cpu() for g in gateways]
    results = asyncio.run(_load_both(gateways, requests, concurrency))
    figures = []
    for gateway, samples in zip(gateways, results, strict=True):
        accepted = {s.exchange_id for s in samples if s.exchange_id and s.status == 202}
        gateway.watcher.wait_for(accepted, timeout=120)
        delivered = gateway.watcher.count(accepted)
        if len(accepted) != requests or delivered != requests:
            raise RuntimeError(f"{gateway.label}: {len(accepted)} accepted, {delivered} delivered")
    for gateway, start_cpu in zip(gateways, before, strict=True):
        end_cpu = gateway.cpu()
        per_exchange = {k: 1000 * (end_cpu[k] - start_cpu[k]) / requests for k in end_cpu}
        per_exchange["in all"] = sum(per_exchange.values())
        figures.append(per_exchange)
    return figures


WORKERS = 2


def main() -> int:
    global WORKERS
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--this", type=Path, default=ROOT, help="checkout A (default: this one)")
    parser.add_argument("--other", type=Path, required=True, help="checkout B")
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--requests", type=int, default=1000, help="exchanges per gateway a round")
    parser.add_argument("--warmup", type=int, default=300, help="exchanges before the first")
    parser.add_argument(
        "--concurrency", type=int, default=32, help="requests in flight to each gateway"
    )
    parser.add_argument("--workers", type=int, default=2, help="API processes per gateway")
    args = parser.parse_args()
    WORKERS = args.workers
    trees = {"A": args.this.resolve(), "B": args.other.resolve()}
    for label, tree in trees.items():
        print(f"{label}: {tree} ({_commit(tree)})", flush=True)

    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="isg-ab-")))
        broker = stack.enter_context(bd.EmbeddedBroker())
        gateways = [
            start(label, tree, args.store, broker, workdir, stack) for label, tree in trees.items()
        ]
        one_round(gateways, args.warmup, args.concurrency)
        figures: list[list[dict[str, float]]] = []
        for round_ in range(args.rounds):
            # Whose load starts first alternates, in case going first matters.
            if round_ % 2:
                b, a = one_round(gateways[::-1], args.requests, args.concurrency)
            else:
                a, b = one_round(gateways, args.requests, args.concurrency)
            figures.append([a, b])
            print(
                f"round {round_ + 1}: A {a['in all']:.3f}, B {b['in all']:.3f} CPU-ms an exchange;"
                f" B/A {b['in all'] / a['in all']:.3f}",
                flush=True,
            )

    slices = f"{args.rounds} rounds of {args.requests} exchanges each"
    print(f"\nCPU ms an exchange, median of {slices} ({args.store}):")
    keys = list(figures[0][0])
    print(f"{'':4}" + "".join(f"{k:>20}" for k in keys))
    for index, label in enumerate("AB"):
        medians = [statistics.median(f[index][k] for f in figures) for k in keys]
        print(f"{label:4}" + "".join(f"{m:20.3f}" for m in medians))
    ratios = [b["in all"] / a["in all"] for a, b in figures]
    print(
        f"B/A per round: {', '.join(f'{r:.3f}' for r in ratios)}; "
        f"median {statistics.median(ratios):.3f}"
    )
    return 0


def _commit(tree: Path) -> str:
    head = bd.subprocess.run(
        ["git", "-C", str(tree), "log", "-1", "--format=%h %s"],
        capture_output=True,
        text=True,
        check=False,
    )
    dirty = bd.subprocess.run(
        ["git", "-C", str(tree), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    )
    return head.stdout.strip()[:60] + (" + uncommitted changes" if dirty.stdout.strip() else "")


if __name__ == "__main__":
    raise SystemExit(main())
