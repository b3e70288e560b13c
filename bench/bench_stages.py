"""Cost of the pipeline's stages for one exchange, timed or counted in instructions.

On these machines a CPU's speed drifts by up to a third within minutes, so two
timings taken minutes apart cannot show a 10 % gain. ``--callgrind`` counts
instructions instead (valgrind's callgrind: the same count for the same code
and input, whatever else the machine is doing): each stage runs in a child
process under valgrind, which counts only while the stage runs (the child
switches counting on after its warm-up with ``callgrind_control``); run once
with no exchanges and once with ``--exchanges``, the difference divided by
the count is the stage's cost per exchange.

``--tree`` imports the gateway from another checkout (``git worktree add
/tmp/old <commit>``), so a change can be counted before and after in one
sitting; ``prepare`` (stages 1-6 for the sample police record, as ``serve``
builds the pipeline) exists in every version, the finer stages may not.
Usage::

    .venv/bin/python bench/bench_stages.py [--exchanges N] [--callgrind] [--tree DIR]
        [--stage prepare|ingest|decide|minimise|audit|route|rows|spans ...]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ["prepare", "ingest", "decide", "minimise", "audit", "route", "rows", "spans"]
SAMPLE = "examples/police/stalking-crime.json"
NO_SUCH_STAGE = 3  # the child's exit status when the tree has no such stage
PARTNER = "cheshire-police"


def build_stages(tree: Path) -> dict[str, Callable[[], object]]:
    """One call per stage for the sample record; inputs are made once, outside the count."""
    sys.path.insert(0, str(tree))
    from adapters import IngestContext, load_registry
    from gateway.delivery.partners import load_partners
    from gateway.pipeline import flow
    from gateway.policy import load_bundle
    from gateway.settings import Settings

    settings = Settings()
    try:  # gateway.telemetry since issue 18; a tree before it has it in gateway.runtime
        from gateway.telemetry.tracing import install_tracer_provider
    except ImportError:
        from gateway.runtime import install_tracer_provider  # type: ignore[attr-defined,no-redef]
    install_tracer_provider(settings.trace_sample_ratio)
    registry = load_registry()
    bundle = load_bundle(tree / settings.policy_dir)  # the tree's, wherever this runs
    partners = load_partners(settings.partners_file)
    renderers = {r: registry.get(f) for r, f in partners.formats().items()}
    webhooks = frozenset(partners.webhooks())
    # Unset, the embedded default makes one per data directory: any fixed key will do here.
    configured = settings.pseudonym_key
    key = (configured.get_secret_value() if configured else "bench").encode()
    pipeline = flow.Pipeline(
        registry=registry,
        store=None,  # prepare never touches the store
        policy=lambda: bundle,
        topic_prefix=settings.topic_prefix,
        pseudonym_key=key,
        webhooks=webhooks,
        renderers=renderers,
    )
    body = (tree / SAMPLE).read_bytes()
    stages: dict[str, Callable[[], object]] = {
        "prepare": lambda: pipeline.prepare("police", body, "application/json", PARTNER)
    }
    try:  # the finer stages, as this version names them
        from datetime import UTC, datetime

        from gateway.pipeline.audit import audit_entries
        from gateway.pipeline.decide import decide
        from gateway.pipeline.deliver import pending_commit
        from gateway.pipeline.ingest import ingest
        from gateway.pipeline.minimise import minimise
        from gateway.pipeline.route import route
    except ImportError:
        return stages
    context = IngestContext(source_partner=PARTNER, received_at=datetime.now(UTC))
    (exchange,) = ingest(registry, "police", body, "application/json", context).items
    record = exchange.model_dump(mode="json")
    decisions = decide(exchange, bundle)
    disclosures = minimise(record, decisions, key)
    entries = audit_entries(exchange, "police", decisions, disclosures)
    headers = {"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}
    messages = route(exchange, disclosures, settings.topic_prefix, webhooks, headers, renderers)
    stages.update(
        ingest=lambda: ingest(registry, "police", body, "application/json", context),
        decide=lambda: decide(exchange, bundle),
        minimise=lambda: minimise(record, decisions, key),
        audit=lambda: audit_entries(exchange, "police", decisions, disclosures),
        route=lambda: route(
            exchange, disclosures, settings.topic_prefix, webhooks, headers, renderers
        ),
        rows=lambda: pending_commit(
            exchange, record, "police", bundle.version, decisions, disclosures, entries, messages
        ),
    )

    def spans() -> None:
        with flow.tracer.start_as_current_span("ingest"):
            pass
        with flow.tracer.start_as_current_span("exchange") as span:
            flow.trace_context(span)

    stages["spans"] = spans
    return stages


def _count(on: bool) -> None:
    """Switch valgrind's counting for this process on or off (no-op outside valgrind)."""
    subprocess.run(
        ["callgrind_control", "--instr=on" if on else "--instr=off", str(os.getpid())],
        capture_output=True,
        check=False,
    )


def run_inner(tree: Path, stage: str, exchanges: int, counted: bool) -> None:
    """The child: warm up (imports, caches), then run ``stage`` ``exchanges`` times."""
    stages = build_stages(tree)
    if stage not in stages:
        sys.exit(NO_SUCH_STAGE)
    call = stages[stage]
    for _ in range(5):
        call()
    if counted:
        _count(True)
    for _ in range(exchanges):
        call()
    if counted:
        _count(False)


def count_instructions(tree: Path, stage: str, exchanges: int) -> int | None:
    """Instructions counted while ``stage`` ran; None if ``tree`` has no such stage."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--inner",
        "--counted",
        "--tree",
        str(tree),
        "--stage",
        stage,
        "--exchanges",
        str(exchanges),
    ]
    # Python's hash randomisation changes dict layouts, and so the counts, run to run.
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tree)
    if done.returncode == NO_SUCH_STAGE:
        return None
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        sys.exit(f"valgrind failed for {stage}:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exchanges", type=int, default=200, help="calls of each stage")
    parser.add_argument("--stage", nargs="+", choices=STAGES, default=STAGES)
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout to import from")
    parser.add_argument("--callgrind", action="store_true", help="count instructions")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--counted", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    tree = args.tree.resolve()
    if args.inner:
        run_inner(tree, args.stage[0], args.exchanges, args.counted)
        return
    if args.callgrind and not (shutil.which("valgrind") and shutil.which("callgrind_control")):
        sys.exit("valgrind is not installed (Debian package valgrind)")
    print(f"tree {tree}, {args.exchanges} exchanges per stage, sample {SAMPLE}")
    if args.callgrind:
        for stage in args.stage:
            base = count_instructions(tree, stage, 0)
            if base is None:
                print(f"  {stage:<9} (not in this tree)")
                continue
            total = count_instructions(tree, stage, args.exchanges)
            assert total is not None
            print(f"  {stage:<9} {(total - base) / args.exchanges:>12,.0f} instructions/exchange")
        return
    stages = build_stages(tree)
    for stage in args.stage:
        if stage not in stages:
            print(f"  {stage:<9} (not in this tree)")
            continue
        call = stages[stage]
        for _ in range(20):
            call()
        best = float("inf")
        for _ in range(7):  # the least disturbed of seven runs
            start = time.process_time()
            for _ in range(args.exchanges):
                call()
            best = min(best, time.process_time() - start)
        print(f"  {stage:<9} {best / args.exchanges * 1e6:>9.1f} µs/exchange (CPU, best of 7)")


if __name__ == "__main__":
    main()
