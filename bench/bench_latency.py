"""An urgent record's latency on an idle gateway: POST sent to the copy on the urgent topic.

Under load the relay is always busy and latency is queueing; on an idle
gateway it is how fast the relay wakes for a new row, which is what an
alert at 3 a.m. meets. The gateway runs as its own process (``gateway
serve``, on SQLite or a throwaway PostgreSQL database, one embedded broker),
and one urgent record at a time (``examples/police/breach-spo-urgent.json``,
the suspect's PNC ID varied) is posted with a pause between, so the relay
has gone idle each time. A librdkafka consumer notes when each arrives on
``<prefix>.v1.urgent.probation-spoc-north``, that recipient's own urgent topic. Usage::

    .venv/bin/python bench/bench_latency.py [--store sqlite|postgresql] [--records 30]
        [--pause 0.7] [--workers 1]

Prints the median, p90 and worst of POST-to-topic and of the 202 alone.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import bench_delivery as bd  # noqa: E402
import httpx  # noqa: E402

from gateway.delivery.topics import urgent_topic  # noqa: E402

SAMPLE = ROOT / "examples" / "police" / "breach-spo-urgent.json"


def urgent_bodies(count: int) -> list[bytes]:
    template = json.loads(SAMPLE.read_text(encoding="utf-8"))
    suspect = next(p for p in template["persons"] if p["role"] == "suspect")
    out = []
    for n in range(count):
        suspect["pnc_id"] = f"13/{n:06d}B"
        out.append(json.dumps(template).encode())
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--records", type=int, default=30)
    parser.add_argument("--pause", type=float, default=0.7, help="seconds between records")
    parser.add_argument("--workers", type=int, default=1, help="API processes (serve --workers)")
    args = parser.parse_args()

    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="isg-lat-")))
        broker = stack.enter_context(bd.EmbeddedBroker())
        if args.store == "sqlite":
            database_url = f"sqlite:///{workdir / 'gateway.db'}"
        else:
            database_url = stack.enter_context(bd.postgres_database())
        prefix = f"lat{uuid.uuid4().hex[:8]}"
        url, _process, _ = bd.start_gateway(
            stack, workdir, database_url, broker, prefix, args.workers
        )
        watcher = bd.DeliveryWatcher(broker.bootstrap, urgent_topic(prefix, bd.RECIPIENT))
        watcher.start()
        stack.callback(watcher.stop)
        watcher.ready.wait(40)

        sent: dict[str, float] = {}
        answered: list[float] = []
        with httpx.Client(headers={**bd.HEADERS, **bd.AUTH.get(url, {})}, timeout=30) as client:
            for body in urgent_bodies(args.records):
                time.sleep(args.pause * random.uniform(0.8, 1.2))
                started = time.perf_counter()
                answer = client.post(url, content=body)
                answered.append(time.perf_counter() - started)
                if answer.status_code != 202:
                    raise RuntimeError(f"{answer.status_code}: {answer.text}")
                sent[answer.json()["exchange_id"]] = started
        watcher.wait_for(set(sent), timeout=30)
        if watcher.error:
            raise RuntimeError(f"consumer failed: {watcher.error!r}")
        arrived, _ = watcher.arrivals()
    latencies = [arrived[x] - t for x, t in sent.items() if x in arrived]
    if len(latencies) != len(sent):
        print(f"only {len(latencies)} of {len(sent)} urgent copies arrived", file=sys.stderr)
        return 1
    print(
        f"{args.store}, {args.workers} API process(es), {len(sent)} urgent records, "
        f"{args.pause:g} s apart:"
    )
    for name, values in (("POST to urgent topic", latencies), ("202 answer", answered)):
        ordered = sorted(values)
        print(
            f"  {name:22} median {statistics.median(ordered) * 1000:6.1f} ms"
            f"  p90 {bd.percentile(ordered, 90) * 1000:6.1f} ms"
            f"  worst {ordered[-1] * 1000:6.1f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
