"""An urgent alert's latency while ordinary traffic is being submitted and delivered.

The gateway runs as its own process (``gateway serve`` on a SQLite file, one
embedded broker), as ``bench_delivery.py`` starts it. 10,000 ordinary
exchanges are POSTed by cheshire-police, either as single JSON records
(``examples/police/stalking-crime.json``, 32 in flight) or as CSV batches of
100 rows (``examples/police/daily-screening.csv``'s first row, 4 batches in
flight); meanwhile cwp-mental-health POSTs an immediate alert
(``examples/fhir/suicidal-ideation-alert-message.json``, to nhs-crisis-line)
every ``--alert-every`` seconds, one at a time. librdkafka consumers note when
each alert arrives on ``<prefix>.v1.urgent.nhs-crisis-line`` and each ordinary
copy on ``<prefix>.v1.deliveries.probation-spoc-north``. Usage::

    .venv/bin/python bench/bench_urgent.py [--shape json|csv|both] [--exchanges 10000]
        [--alert-every 0.2] [--tree DIR]

``--tree`` runs another checkout's gateway (``git worktree add /tmp/old COMMIT``);
one from before per-recipient urgent topics is read on ``<prefix>.v1.urgent``.

Prints, per shape, the alert's POST-to-topic and POST-to-202 p50, p99 and
worst, and how many alerts were ever behind ordinary traffic that arrived
after them: an ordinary request sent after the alert whose 202 came first, or
an ordinary copy sent after the alert that reached its topic first.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import random
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import bench_delivery as bd  # noqa: E402
import httpx  # noqa: E402

from gateway.delivery.topics import urgent_topic  # noqa: E402

ALERT = ROOT / "examples" / "fhir" / "suicidal-ideation-alert-message.json"
SCREENING = ROOT / "examples" / "police" / "daily-screening.csv"
ALERT_SENDER = "cwp-mental-health"
ALERT_RECIPIENT = "nhs-crisis-line"
BATCH_ROWS = 100


@dataclass
class Request:
    sent: float
    answered: float = 0.0
    status: int | str = 0
    exchange_ids: list[str] = field(default_factory=list)


def csv_bodies(exchanges: int) -> list[bytes]:
    """Batches of BATCH_ROWS rows: the sample's first row, occurrence and PNC ID varied."""
    reader = csv.DictReader(io.StringIO(SCREENING.read_text(encoding="utf-8")))
    header, first = reader.fieldnames or [], next(reader)
    out = []
    for start in range(0, exchanges, BATCH_ROWS):
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        for n in range(start, min(start + BATCH_ROWS, exchanges)):
            row = dict(first)
            row["occurrence_number"] = f"CC-2026-{n:06d}"
            row["suspect_pnc_id"] = f"14/{n:06d}C"
            writer.writerow(row)
        out.append(text.getvalue().encode())
    return out


def alert_body() -> bytes:
    bundle = json.loads(ALERT.read_text(encoding="utf-8"))
    bundle["id"] = str(uuid.uuid4())
    return json.dumps(bundle).encode()


def with_alert_client(data_dir: Path) -> Path:
    """The bench's police client, and one for the alert's sender with the same key."""
    clients = ORIGINAL_BENCH_CLIENT(data_dir)
    with clients.open("a", encoding="utf-8") as out:
        out.write(
            f"  - client_id: {ALERT_SENDER}\n    partner: {ALERT_SENDER}\n"
            "    jwks_file: bench-client.jwks.json\n    formats: [fhir]\n"
        )
    return clients


ORIGINAL_BENCH_CLIENT = bd.bench_client
bd.bench_client = with_alert_client


def token_for(client_id: str, base: str, data_dir: Path) -> str:
    from gateway.identity.assertion import client_assertion

    key = json.loads((data_dir / "bench-client.private.json").read_text())
    token_url = f"{base}/oauth2/token"
    answer = httpx.post(
        token_url,
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": client_assertion(client_id, key, token_url),
        },
        timeout=30,
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def raw_client(url: str, headers: dict[str, str]) -> bd.RawHTTP:
    client = bd.RawHTTP(url)
    client.head = "".join(
        [f"POST {client.path} HTTP/1.1\r\nHost: {client.host}:{client.port}\r\n"]
        + [f"{k}: {v}\r\n" for k, v in headers.items()]
    ).encode()
    return client


def exchange_ids(content: bytes) -> list[str]:
    answer = json.loads(content) if content else {}
    if "exchange_id" in answer:
        return [answer["exchange_id"]]
    return [r["exchange_id"] for r in answer.get("results", []) if r.get("status") == "accepted"]


async def run_load(
    ordinary_url: str,
    ordinary_headers: dict[str, str],
    payloads: list[bytes],
    concurrency: int,
    alert_url: str,
    alert_headers: dict[str, str],
    alert_every: float,
) -> tuple[list[Request], list[Request]]:
    ordinary: list[Request] = []
    alerts: list[Request] = []
    indexes = iter(range(len(payloads)))
    done = asyncio.Event()

    async def post(client: bd.RawHTTP, body: bytes, into: list[Request]) -> None:
        request = Request(time.perf_counter())
        into.append(request)
        status: int | str
        try:
            status, content = await client.post(body)
            request.exchange_ids = exchange_ids(content) if status == 202 else []
        except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
            status = type(exc).__name__
        request.answered, request.status = time.perf_counter(), status

    async def submitter() -> None:
        client = raw_client(ordinary_url, ordinary_headers)
        try:
            for i in indexes:  # shared: each body is taken by exactly one submitter
                await post(client, payloads[i], ordinary)
        finally:
            await client.close()

    async def alerter() -> None:
        client = raw_client(alert_url, alert_headers)
        try:
            await asyncio.sleep(1.0)  # the load is under way
            while not done.is_set():
                await post(client, alert_body(), alerts)
                await asyncio.sleep(alert_every * random.uniform(0.5, 1.5))
        finally:
            await client.close()

    alerting = asyncio.create_task(alerter())
    await asyncio.gather(*(submitter() for _ in range(concurrency)))
    done.set()
    await alerting
    return ordinary, alerts


def run_shape(shape: str, args: argparse.Namespace) -> dict[str, float]:
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="isg-urg-")))
        broker = stack.enter_context(bd.EmbeddedBroker())
        database_url = f"sqlite:///{workdir / 'gateway.db'}"
        prefix = f"urg{uuid.uuid4().hex[:8]}"
        url, _process, watcher = bd.start_gateway(
            stack, workdir, database_url, broker, prefix, 1, tree=args.tree
        )
        base = url.split("/v1/")[0]
        topics = (args.tree / "gateway" / "delivery" / "topics.py").read_text(encoding="utf-8")
        shared = "def urgent_topic(prefix: str) -> str" in topics  # before issue 17
        alert_topic = f"{prefix}.v1.urgent" if shared else urgent_topic(prefix, ALERT_RECIPIENT)
        alert_watcher = bd.DeliveryWatcher(broker.bootstrap, alert_topic)
        alert_watcher.start()
        stack.callback(alert_watcher.stop)
        alert_watcher.ready.wait(40)
        police_auth = bd.AUTH.get(url, {})
        if shape == "json":
            payloads = bd.bodies(args.exchanges)
            headers = {**bd.HEADERS, **police_auth}
            concurrency = args.concurrency
        else:
            payloads = csv_bodies(args.exchanges)
            headers = {**bd.HEADERS, **police_auth, "Content-Type": "text/csv"}
            concurrency = args.batches_in_flight
        alert_headers = {
            "Content-Type": "application/fhir+json",
            "Authorization": f"Bearer {token_for(ALERT_SENDER, base, workdir)}",
        }
        alert_url = f"{base}/v1/inbound/fhir"
        started = time.perf_counter()
        ordinary, alerts = asyncio.run(
            run_load(
                url, headers, payloads, concurrency, alert_url, alert_headers, args.alert_every
            )
        )
        submitted = time.perf_counter() - started
        sent_ordinary = {x for r in ordinary for x in r.exchange_ids}
        sent_alerts = {x for r in alerts for x in r.exchange_ids}
        watcher.wait_for(sent_ordinary, timeout=300)
        alert_watcher.wait_for(sent_alerts, timeout=60)
        delivered = time.perf_counter() - started
        arrived, _ = watcher.arrivals()
        alert_arrived, _ = alert_watcher.arrivals()
    bad = [r for r in ordinary + alerts if r.status != 202]
    if bad:
        print(f"{len(bad)} requests were not accepted, e.g. {bad[0].status}", file=sys.stderr)
    missing = len(sent_ordinary - set(arrived)) + len(sent_alerts - set(alert_arrived))
    if missing:
        print(f"{missing} copies never arrived", file=sys.stderr)
    to_topic, to_202 = [], []
    behind_202 = behind_topic = 0
    for alert in alerts:
        (exchange_id,) = alert.exchange_ids
        landed = alert_arrived[exchange_id]
        to_topic.append(landed - alert.sent)
        to_202.append(alert.answered - alert.sent)
        later = [r for r in ordinary if r.sent > alert.sent]
        behind_202 += any(r.answered < alert.answered for r in later)
        behind_topic += any(
            arrived.get(x, float("inf")) < landed for r in later for x in r.exchange_ids
        )
    figures = {
        "alerts": len(alerts),
        "exchanges": len(sent_ordinary),
        "submitted_s": submitted,
        "delivered_s": delivered,
        "topic_p50": bd.percentile(sorted(to_topic), 50),
        "topic_p99": bd.percentile(sorted(to_topic), 99),
        "topic_max": max(to_topic),
        "answer_p50": bd.percentile(sorted(to_202), 50),
        "answer_p99": bd.percentile(sorted(to_202), 99),
        "answer_max": max(to_202),
        "behind_202": behind_202,
        "behind_topic": behind_topic,
        "failed": len(bad) + missing,
    }
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=["json", "csv", "both"], default="both")
    parser.add_argument("--exchanges", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32, help="JSON requests in flight")
    parser.add_argument("--batches-in-flight", type=int, default=4)
    parser.add_argument("--alert-every", type=float, default=0.2, help="seconds between alerts")
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout to run")
    args = parser.parse_args()
    failed = 0
    for shape in ["json", "csv"] if args.shape == "both" else [args.shape]:
        f = run_shape(shape, args)
        failed += int(f["failed"])
        print(
            f"{shape}: {f['exchanges']:.0f} ordinary exchanges submitted in "
            f"{f['submitted_s']:.1f} s, delivered by {f['delivered_s']:.1f} s; "
            f"{f['alerts']:.0f} alerts"
        )
        for name, key in (("POST to urgent topic", "topic"), ("POST to 202", "answer")):
            print(
                f"  {name:21} p50 {f[key + '_p50'] * 1000:6.1f} ms"
                f"  p99 {f[key + '_p99'] * 1000:6.1f} ms  worst {f[key + '_max'] * 1000:6.1f} ms"
            )
        print(
            f"  alerts behind ordinary traffic sent after them: {f['behind_202']:.0f} by 202, "
            f"{f['behind_topic']:.0f} by arrival on the topic"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
