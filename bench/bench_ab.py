"""Two checkouts' CPU per exchange under the same load, measured turn about.

These machines' speed drifts by up to a third within minutes, so a
``bench_delivery.py`` run before a change and one after cannot show a gain of
10 %: identical code measured twice in a row differed by that much. Here both
gateways run at once (each its own ``gateway serve``, database and topic
prefix, one broker), and the load goes to one, then the other, in short slices
(A B, B A, A B ...). Each slice is counted until its last message is on the
recipient's topic; a slice's CPU is every process's (API workers, relay,
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
    watcher: bd.DeliveryWatcher
    next_body: int = 0


def start(
    label: str, tree: Path, store: str, broker: bd.EmbeddedBroker, workdir: Path, stack: ExitStack
) -> Gateway:
    data_dir = workdir / label
    data_dir.mkdir()
    if store == "sqlite":
        database_url = f"sqlite:///{data_dir / 'gateway.db'}"
    else:
        database_url = stack.enter_context(bd.postgres_database())
    prefix = f"ab{label}{uuid.uuid4().hex[:6]}"
    env = bd.gateway_env(database_url, broker.bootstrap, prefix, data_dir)
    env["PYTHONPATH"] = str(tree)
    log = data_dir / "gateway.log"
    with log.open("ab") as out:
        bd.subprocess.run(
            [str(bd.GATEWAY), "db", "upgrade"],
            cwd=tree,
            env=env,
            stdout=out,
            stderr=bd.subprocess.STDOUT,
            check=True,
            timeout=120,
        )
    port = bd.free_port()
    base = f"http://127.0.0.1:{port}"
    command = [str(bd.GATEWAY), "serve", "--port", str(port), "--workers", str(WORKERS)]
    process = stack.enter_context(bd.child(command, env, log))
    bd.wait_ready(f"{base}/readyz", process, log, timeout=90)
    watcher = bd.DeliveryWatcher(broker.bootstrap, bd.recipient_topic(prefix, bd.RECIPIENT))
    watcher.start()
    stack.callback(watcher.stop)
    watcher.ready.wait(40)
    if watcher.error:
        raise RuntimeError(f"consumer failed: {watcher.error!r}")
    return Gateway(label, f"{base}/v1/inbound/{bd.FORMAT}", process.pid, watcher)


def slice_cpu(
    gateway: Gateway, broker: bd.EmbeddedBroker, requests: int, args: argparse.Namespace
) -> dict[str, float]:
    """CPU ms an exchange, per process group, for ``requests`` exchanges delivered."""
    payloads = bd.bodies(requests, first=gateway.next_body)
    gateway.next_body += requests
    meter = bd.CpuMeter(
        {"relay": gateway.pid, "broker": broker.process.pid},  # type: ignore[union-attr]
        with_postgres=args.store == "postgresql",
        children_of={"API workers": gateway.pid},
    )
    with meter:
        samples = bd.load(gateway.url, payloads, args, duration=600)
        accepted = {s.exchange_id for s in samples if s.exchange_id and s.status == 202}
        gateway.watcher.wait_for(accepted, timeout=120)
    delivered = gateway.watcher.count(accepted)
    if len(accepted) != requests or delivered != requests:
        raise RuntimeError(f"{gateway.label}: {len(accepted)} accepted, {delivered} delivered")
    used = {k: v for k, v in meter.used.items() if k not in ("machine busy", "machine total")}
    used.pop("stolen", None)
    per_exchange = {k: 1000 * v / requests for k, v in used.items()}
    per_exchange["in all"] = sum(per_exchange.values())
    return per_exchange


WORKERS = 2


def main() -> int:
    global WORKERS
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--this", type=Path, default=ROOT, help="checkout A (default: this one)")
    parser.add_argument("--other", type=Path, required=True, help="checkout B")
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--rounds", type=int, default=6, help="slices per checkout")
    parser.add_argument("--requests", type=int, default=1000, help="exchanges per slice")
    parser.add_argument("--warmup", type=int, default=300, help="exchanges before the first")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument("--workers", type=int, default=2, help="API processes per gateway")
    args = parser.parse_args()
    args.client = "raw"
    WORKERS = args.workers
    trees = {"A": args.this.resolve(), "B": args.other.resolve()}
    for label, tree in trees.items():
        print(f"{label}: {tree} ({_commit(tree)})", flush=True)

    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="isg-ab-")))
        broker = stack.enter_context(bd.EmbeddedBroker())
        gateways = {
            label: start(label, tree, args.store, broker, workdir, stack)
            for label, tree in trees.items()
        }
        for gateway in gateways.values():
            slice_cpu(gateway, broker, args.warmup, args)
        figures: dict[str, list[dict[str, float]]] = {"A": [], "B": []}
        for round_ in range(args.rounds):
            order = "AB" if round_ % 2 == 0 else "BA"
            for label in order:
                figures[label].append(slice_cpu(gateways[label], broker, args.requests, args))
            a, b = figures["A"][-1]["in all"], figures["B"][-1]["in all"]
            print(
                f"round {round_ + 1} ({order}): A {a:.2f}, B {b:.2f} CPU-ms an exchange;"
                f" B/A {b / a:.3f}",
                flush=True,
            )

    print(
        f"\nCPU ms an exchange, median of {args.rounds} slices of {args.requests} ({args.store}):"
    )
    keys = list(figures["A"][0])
    print(f"{'':24}" + "".join(f"{k[:22]:>24}" for k in keys))
    for label in "AB":
        medians = [statistics.median(f[k] for f in figures[label]) for k in keys]
        print(f"{label:24}" + "".join(f"{m:24.3f}" for m in medians))
    ratios = [b["in all"] / a["in all"] for a, b in zip(figures["A"], figures["B"], strict=True)]
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
