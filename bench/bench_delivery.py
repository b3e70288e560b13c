"""End-to-end delivery throughput: POST to the message being on the recipient's topic.

One real Kafka-protocol broker (the embedded one) is started for the whole run.
For each store (a SQLite file in a temp dir, and/or a throwaway PostgreSQL
database on the local server) the gateway runs as its own process
(``gateway db upgrade`` then ``gateway serve``), and concurrent clients POST
the sample police record with a different suspect PNC ID per request, so the
messages spread over subject keys. A librdkafka consumer (confluent-kafka) in a thread reads
``<prefix>.v1.deliveries.probation-spoc-north`` from the beginning and matches
messages by their ``exchange-id`` header. In the same run a bare FastAPI
endpoint (uvicorn at the API workers' log level, its own process) that only
``json.loads`` the same body gets the same client load (same concurrency, more
requests), before and after the gateway, for the ratio gateway/bare. The load
client is a minimal asyncio HTTP/1.1 keep-alive client (``--client httpx`` for
httpx.AsyncClient, which costs ~3 ms of CPU a request and takes a core from the
servers on a 2-core machine).

All traffic is on 127.0.0.1 and every process started here is stopped at the
end, on error too. Usage::

    .venv/bin/python bench/bench_delivery.py [--store sqlite|postgresql|both]
        [--requests N] [--duration S] [--concurrency C] [--bare-requests N] [--keep]
        [--db-latency-ms MS]

Figures (rates, p50/p99 latencies, CPU seconds per process) are printed at the
end; record them in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from gateway.delivery.topics import recipient_topic  # noqa: E402
from gateway.embedded.broker import EmbeddedBroker, free_port  # noqa: E402

VENV_BIN = ROOT / ".venv" / "bin"
GATEWAY = VENV_BIN / "gateway"
SAMPLE = ROOT / "examples" / "police" / "stalking-crime.json"
FORMAT = "police"
PARTNER = "cheshire-police"
RECIPIENT = "probation-spoc-north"
PG_ADMIN_URL = os.environ.get("ISG_TEST_PG_ADMIN", "postgresql+psycopg:///postgres")
# X-Partner-Id for checkouts from before partner credentials (bench_ab); newer ones
# ignore it and read the access token start_gateway adds for their URL (AUTH).
HEADERS = {"Content-Type": "application/json", "X-Partner-Id": PARTNER}
#: inbound URL -> Authorization header of a token from that gateway
AUTH: dict[str, dict[str, str]] = {}
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- processes -------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM if this benchmark dies, even by SIGKILL."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def child(argv: list[str], env: dict[str, str], log: Path):
    """A child process whose output goes to ``log``; always stopped on the way out."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
    try:
        yield process
    finally:
        _stop(process)


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=5, trust_env=False) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{url} process exited with {process.returncode}:\n{_tail(log)}")
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout:.0f} s:\n{_tail(log)}")


def bench_client(data_dir: Path) -> Path:
    """A registered client for the sending partner, its key pair in ``data_dir``."""
    from joserfc.jwk import ECKey

    key = ECKey.generate_key("P-256", parameters={"kid": "bench"})
    (data_dir / "bench-client.private.json").write_text(json.dumps(key.as_dict(private=True)))
    (data_dir / "bench-client.jwks.json").write_text(
        json.dumps({"keys": [key.as_dict(private=False)]})
    )
    clients = data_dir / "clients.yaml"
    clients.write_text(
        "clients:\n"
        f"  - client_id: {PARTNER}\n    partner: {PARTNER}\n"
        "    jwks_file: bench-client.jwks.json\n    formats: [police]\n"
    )
    return clients


def bench_token(base: str, data_dir: Path) -> str:
    """An access token for the bench client (its lifetime outlasts a run)."""
    from gateway.identity.assertion import client_assertion

    key = json.loads((data_dir / "bench-client.private.json").read_text())
    token_url = f"{base}/oauth2/token"
    answer = httpx.post(
        token_url,
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": client_assertion(PARTNER, key, token_url),
        },
        timeout=30,
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def gateway_env(database_url: str, bootstrap: str, prefix: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        GATEWAY_DATABASE_URL=database_url,
        GATEWAY_KAFKA_BOOTSTRAP=bootstrap,
        GATEWAY_PSEUDONYM_KEY="bench",
        GATEWAY_TOPIC_PREFIX=prefix,
        GATEWAY_DATA_DIR=str(data_dir),
    )
    return env


@contextmanager
def postgres_database(admin_url: str = PG_ADMIN_URL):
    """A throwaway database on the local server, dropped at the end."""
    import sqlalchemy as sa

    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"isg_bench_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = admin.url.set(database=name).render_as_string(hide_password=False)
        try:
            yield url
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


# -- CPU accounting (from /proc, so the figures say where the two cores went) ----------------


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of one process (threads included)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def children() -> dict[int, list[int]]:
    """Every running process's children, by parent pid (from /proc)."""
    found: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        found.setdefault(parent, []).append(int(entry.name))
    return found


def children_cpu(parent: int) -> float:
    """CPU seconds of ``parent``'s child processes (``serve --workers``' API workers)."""
    return sum(proc_cpu(pid) for pid in children().get(parent, []))


def postgres_cpu() -> float:
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if comm.startswith("postgres"):
            total += proc_cpu(int(entry.name))
    return total


def machine_busy() -> tuple[float, float, float]:
    """(busy, total, stolen) CPU seconds of the whole machine since boot. Stolen is
    time the hypervisor gave another guest while this one wanted the CPU: on a
    shared host it is one reason two identical runs differ."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return (total - idle) / CLK_TCK, total / CLK_TCK, values[7] / CLK_TCK


@dataclass
class CpuMeter:
    pids: dict[str, int]
    with_postgres: bool = False
    #: label -> pid whose child processes are counted together (the API workers)
    children_of: dict[str, int] = field(default_factory=dict)
    start: dict[str, float] = field(default_factory=dict)
    used: dict[str, float] = field(default_factory=dict)

    def _sample(self) -> dict[str, float]:
        sample = {name: proc_cpu(pid) for name, pid in self.pids.items()}
        for name, pid in self.children_of.items():
            sample[name] = children_cpu(pid)
        sample["client (this process)"] = time.process_time()
        if self.with_postgres:
            sample["postgres (all backends)"] = postgres_cpu()
        sample["machine busy"], sample["machine total"], sample["stolen"] = machine_busy()
        return sample

    def __enter__(self) -> CpuMeter:
        self.start = self._sample()
        return self

    def __exit__(self, *_exc: object) -> None:
        end = self._sample()
        self.used = {k: end[k] - self.start[k] for k in end}


# -- load ------------------------------------------------------------------------------------


def bodies(count: int, first: int = 0) -> list[bytes]:
    """The sample record, with the suspect's PNC ID varied so subject keys differ."""
    template = json.loads(SAMPLE.read_text(encoding="utf-8"))
    suspect = next(p for p in template["persons"] if p["role"] == "suspect")
    out = []
    for n in range(first, first + count):
        suspect["pnc_id"] = f"12/{n:06d}A"
        out.append(json.dumps(template).encode())
    return out


@dataclass
class Sample:
    sent: float
    answered: float
    status: int | str
    exchange_id: str | None


class RawHTTP:
    """A minimal HTTP/1.1 keep-alive client over asyncio streams.

    httpx spends about 3 ms of CPU per request here, which on a 2-core machine
    takes a core from the server under test; this client spends a fraction of
    that, so the figures are about the server. It speaks just enough HTTP for
    these two servers: Content-Length or chunked bodies, reconnect on close.
    """

    def __init__(self, url: str) -> None:
        parsed = httpx.URL(url)
        self.host, self.port, self.path = parsed.host, parsed.port or 80, parsed.raw_path.decode()
        self.head = "".join(
            [f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"]
            + [f"{k}: {v}\r\n" for k, v in {**HEADERS, **AUTH.get(url, {})}.items()]
        ).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes) -> tuple[int, bytes]:
        try:
            return await self._post(body)
        except BaseException:
            await self.close()  # the next request starts on a fresh connection
            raise

    async def _post(self, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(b"%sContent-Length: %d\r\n\r\n%s" % (self.head, len(body), body))
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        length, chunked, close = 0, False, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                close = True
        if chunked:
            parts = []
            while size := int((await self.reader.readline()).split(b";")[0], 16):
                parts.append(await self.reader.readexactly(size))
                await self.reader.readline()
            await self.reader.readline()
            content = b"".join(parts)
        else:
            content = await self.reader.readexactly(length)
        if close:
            await self.close()
        return status, content

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


async def _load(
    url: str, payloads: list[bytes], concurrency: int, duration: float, client: str
) -> list[Sample]:
    samples: list[Sample] = []
    indexes = iter(range(len(payloads)))
    stop_at = time.perf_counter() + duration

    async def run(post: Any) -> None:
        for i in indexes:  # shared: each request is taken by exactly one client
            if time.perf_counter() > stop_at:
                return
            sent = time.perf_counter()
            try:
                status, content = await post(payloads[i])
                answer = json.loads(content) if content else {}
            except (httpx.HTTPError, OSError, ValueError, asyncio.IncompleteReadError) as exc:
                answer, status = {}, type(exc).__name__
            exchange_id = answer.get("exchange_id") if isinstance(answer, dict) else None
            samples.append(Sample(sent, time.perf_counter(), status, exchange_id))

    if client == "raw":
        connections = [RawHTTP(url) for _ in range(concurrency)]
        try:
            await asyncio.gather(*(run(c.post) for c in connections))
        finally:
            for c in connections:
                await c.close()
        return samples

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60, trust_env=False) as http:

        async def post(body: bytes) -> tuple[int, bytes]:
            response = await http.post(url, content=body, headers={**HEADERS, **AUTH.get(url, {})})
            return response.status_code, response.content

        await asyncio.gather(*(run(post) for _ in range(concurrency)))
    return samples


def load(
    url: str, payloads: list[bytes], args: argparse.Namespace, duration: float
) -> list[Sample]:
    return asyncio.run(_load(url, payloads, args.concurrency, duration, args.client))


class DeliveryWatcher(threading.Thread):
    """Reads the recipient's topic from the beginning; notes when each exchange id arrives."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(name="delivery-watcher", daemon=True)
        self.bootstrap = bootstrap
        self.topic = topic
        self.arrived: dict[str, float] = {}
        self.duplicates = 0
        self.error: BaseException | None = None
        self.ready = threading.Event()
        self._halt = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> None:
        # librdkafka (confluent-kafka, a dev dependency) rather than kafka-python:
        # reading in C leaves the two cores to the gateway instead of spending
        # ~0.6 ms of this process's CPU per message on decoding.
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        try:
            consumer = Consumer(
                {
                    "bootstrap.servers": self.bootstrap,
                    "group.id": f"isg-bench-watcher-{uuid.uuid4().hex[:6]}",
                    "enable.auto.commit": False,
                    "fetch.wait.max.ms": 20,
                }
            )
        except Exception as exc:
            self.error = exc
            self.ready.set()
            return
        try:
            deadline = time.monotonic() + 30
            partitions: list[int] = []
            while not partitions and time.monotonic() < deadline:
                topic = consumer.list_topics(self.topic, timeout=5).topics.get(self.topic)
                partitions = sorted(topic.partitions) if topic and not topic.error else []
                if not partitions:
                    time.sleep(0.2)
            if not partitions:
                raise RuntimeError(f"no topic {self.topic}")
            consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in partitions])
            self.ready.set()
            while not self._halt.is_set():
                messages = consumer.consume(num_messages=1000, timeout=0.05)
                now = time.perf_counter()
                with self._lock:
                    for message in messages:
                        if message.error():
                            continue
                        headers = dict(message.headers() or [])
                        exchange_id = headers.get("exchange-id", b"").decode()
                        if exchange_id in self.arrived:
                            self.duplicates += 1
                        else:
                            self.arrived[exchange_id] = now
        except Exception as exc:
            self.error = exc
        finally:
            self.ready.set()
            consumer.close()

    def count(self, exchange_ids: set[str]) -> int:
        with self._lock:
            return sum(1 for x in exchange_ids if x in self.arrived)

    def arrivals(self) -> tuple[dict[str, float], int]:
        """When each exchange id arrived so far, and how many duplicates came."""
        with self._lock:
            return dict(self.arrived), self.duplicates

    def wait_for(self, exchange_ids: set[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.error is None:
            if self.count(exchange_ids) == len(exchange_ids):
                return
            time.sleep(0.05)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)


# -- figures ---------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass
class Result:
    name: str
    requests: int
    accepted: int
    errors: dict[str, int]
    http_seconds: float
    http_latencies: list[float]
    delivered: int = 0
    delivered_while_loading: int = 0  # arrived before the last HTTP answer
    duplicates: int = 0
    warmup_errors: dict[str, int] = field(default_factory=dict)
    e2e_seconds: float = float("nan")
    e2e_latencies: list[float] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def accepted_rate(self) -> float:
        return self.accepted / self.http_seconds if self.http_seconds > 0 else float("nan")

    @property
    def delivered_rate(self) -> float:
        return self.delivered / self.e2e_seconds if self.e2e_seconds > 0 else float("nan")


def summarise(name: str, samples: list[Sample], ok_status: int) -> Result:
    errors: dict[str, int] = {}
    for s in samples:
        if s.status != ok_status:
            errors[str(s.status)] = errors.get(str(s.status), 0) + 1
    first = min(s.sent for s in samples)
    last = max(s.answered for s in samples)
    return Result(
        name=name,
        requests=len(samples),
        accepted=sum(1 for s in samples if s.status == ok_status),
        errors=errors,
        http_seconds=last - first,
        http_latencies=[s.answered - s.sent for s in samples if s.status == ok_status],
    )


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def print_result(result: Result) -> None:
    print(
        f"  {result.name}: {result.requests} requests, {result.accepted} accepted "
        f"in {result.http_seconds:.2f} s -> {result.accepted_rate:.0f} accepted/s; "
        f"HTTP p50 {ms(percentile(result.http_latencies, 50))} ms, "
        f"p99 {ms(percentile(result.http_latencies, 99))} ms",
        flush=True,
    )
    if result.errors:
        print(f"    errors: {result.errors}", flush=True)
    if result.e2e_latencies or result.delivered:
        print(
            f"    delivered {result.delivered}/{result.accepted} "
            f"(duplicates {result.duplicates}) in {result.e2e_seconds:.2f} s -> "
            f"{result.delivered_rate:.0f} delivered/s; end-to-end p50 "
            f"{ms(percentile(result.e2e_latencies, 50))} ms, "
            f"p99 {ms(percentile(result.e2e_latencies, 99))} ms",
            flush=True,
        )
        print(
            f"    delivered while the load ran: {result.delivered_while_loading} "
            f"({result.delivered_while_loading / result.http_seconds:.0f}/s); "
            f"the rest came out of the outbox backlog after the last answer",
            flush=True,
        )
    if result.cpu:
        wall = result.e2e_seconds if result.delivered else result.http_seconds
        cpu = dict(result.cpu)
        busy = cpu.pop("machine busy", 0.0)
        total = cpu.pop("machine total", 0.0)
        stolen = cpu.pop("stolen", 0.0)
        parts = ", ".join(f"{k} {v:.1f}" for k, v in cpu.items())
        print(f"    CPU seconds over the run ({wall:.1f} s wall): {parts}", flush=True)
        if result.accepted:
            # What the targets come down to: every process's CPU for one exchange
            # (or one bare request), comparable across machines of different speeds.
            each = ", ".join(f"{k} {1000 * v / result.accepted:.2f}" for k, v in cpu.items())
            whole = 1000 * sum(cpu.values()) / result.accepted
            print(f"    CPU ms per request: {each}; in all {whole:.2f}", flush=True)
        if total > 0:
            others = max(0.0, busy - stolen - sum(cpu.values()))
            print(
                f"    machine busy {busy:.1f} of {total:.1f} CPU-s ({100 * busy / total:.0f}%), "
                f"of which other processes (not this benchmark's) {others:.1f}, "
                f"stolen by the hypervisor {stolen:.1f}",
                flush=True,
            )


# -- runs ------------------------------------------------------------------------------------


def database_admin_url(args: argparse.Namespace, stack: ExitStack) -> str:
    """PostgreSQL's admin URL, through a proxy adding ``--db-latency-ms`` each way if
    asked (a database on another host; the proxy's own CPU is not counted)."""
    if not args.db_latency_ms:
        return PG_ADMIN_URL
    import sqlalchemy as sa

    admin = sa.make_url(PG_ADMIN_URL)
    port = free_port()
    proxy = [sys.executable, str(ROOT / "bench" / "latency_proxy.py"), str(port)]
    proxy += [admin.host or "127.0.0.1", str(admin.port or 5432), str(args.db_latency_ms)]
    stack.enter_context(child(proxy, dict(os.environ), Path(os.devnull)))
    time.sleep(0.5)  # listening
    return admin.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)


def start_gateway(
    stack: ExitStack,
    data_dir: Path,
    database_url: str,
    broker: EmbeddedBroker,
    prefix: str,
    workers: int,
    tree: Path = ROOT,
) -> tuple[str, subprocess.Popen[bytes], DeliveryWatcher]:
    """``gateway db upgrade``, then ``gateway serve`` from ``tree``'s code (not where
    the venv's editable install points: a ``git worktree`` of an older commit shares
    the main venv), ready, with
    a watcher on the recipient's topic; all stopped when ``stack`` closes. Returns
    the inbound URL, the serve process and the watcher."""
    env = gateway_env(database_url, broker.bootstrap, prefix, data_dir)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")]))
    # The checkout's own agreement: another's may use words its code does not know.
    env["GATEWAY_POLICY_DIR"] = str(tree / "policies" / "cheshire-hru")
    # Only the settings this checkout knows: an unknown GATEWAY_* variable stops it.
    known = (tree / "gateway" / "settings.py").read_text(encoding="utf-8")
    credentials = "clients_file" in known
    if credentials:
        env["GATEWAY_CLIENTS_FILE"] = str(bench_client(data_dir))
        env["GATEWAY_ACCESS_TOKEN_SECONDS"] = "3600"  # one token for the whole run
    if "rate_limit_per_client" in known:
        env["GATEWAY_RATE_LIMIT_PER_CLIENT"] = "1000000/second"  # the load is one client
    log = data_dir / "gateway.log"
    with log.open("ab") as out:
        subprocess.run(
            [str(GATEWAY), "db", "upgrade"],
            cwd=tree,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=120,
        )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [str(GATEWAY), "serve", "--port", str(port), "--workers", str(workers)]
    process = stack.enter_context(child(command, env, log))
    wait_ready(f"{base}/readyz", process, log, timeout=90)
    if credentials:
        AUTH[f"{base}/v1/inbound/{FORMAT}"] = {
            "Authorization": f"Bearer {bench_token(base, data_dir)}"
        }
    watcher = DeliveryWatcher(broker.bootstrap, recipient_topic(prefix, RECIPIENT))
    watcher.start()
    stack.callback(watcher.stop)
    watcher.ready.wait(40)
    if watcher.error:
        raise RuntimeError(f"consumer failed: {watcher.error!r}")
    return f"{base}/v1/inbound/{FORMAT}", process, watcher


def run_gateway(
    store: str, broker: EmbeddedBroker, args: argparse.Namespace, workdir: Path
) -> Result:
    with ExitStack() as stack:
        data_dir = workdir / store
        data_dir.mkdir()
        if store == "sqlite":
            database_url = f"sqlite:///{data_dir / 'gateway.db'}"
        else:
            database_url = stack.enter_context(postgres_database(database_admin_url(args, stack)))
        print(f"[{store}] gateway db upgrade", flush=True)
        prefix = f"bench{uuid.uuid4().hex[:8]}"
        url, process, watcher = start_gateway(
            stack, data_dir, database_url, broker, prefix, args.workers
        )

        warm = load(url, bodies(args.warmup, first=900_000), args, 30)
        warm_ids = {s.exchange_id for s in warm if s.exchange_id}
        watcher.wait_for(warm_ids, timeout=60)
        warm_errors = summarise("warm-up", warm, ok_status=202).errors
        print(
            f"[{store}] warm-up: {len(warm_ids)} accepted, {watcher.count(warm_ids)} delivered"
            f"{f', errors {warm_errors}' if warm_errors else ''}; "
            f"measuring {args.requests} requests (at most {args.duration:.0f} s), "
            f"{args.concurrency} in flight",
            flush=True,
        )

        payloads = bodies(args.requests)
        meter = CpuMeter(
            {
                "gateway (relay)" if args.workers > 1 else "gateway": process.pid,
                "broker": broker.process.pid,  # type: ignore[union-attr]
            },
            with_postgres=store == "postgresql",
            children_of={"gateway API workers": process.pid},
        )
        with meter:
            samples = load(url, payloads, args, args.duration)
            accepted_ids = {s.exchange_id for s in samples if s.exchange_id and s.status == 202}
            watcher.wait_for(accepted_ids, timeout=args.drain_timeout)
        if watcher.error:
            raise RuntimeError(f"consumer failed: {watcher.error!r}")

        result = summarise(store, samples, ok_status=202)
        result.cpu = meter.used
        arrived, result.duplicates = watcher.arrivals()
        delivered = [s for s in samples if s.exchange_id in accepted_ids]
        delivered = [s for s in delivered if s.exchange_id in arrived]
        result.delivered = len(delivered)
        if delivered:
            first_post = min(s.sent for s in samples)
            last_arrival = max(arrived[s.exchange_id] for s in delivered)  # type: ignore[index]
            result.e2e_seconds = last_arrival - first_post
            result.e2e_latencies = [arrived[s.exchange_id] - s.sent for s in delivered]  # type: ignore[index]
            last_answer = max(s.answered for s in samples)
            result.delivered_while_loading = sum(
                1
                for s in delivered
                if arrived[s.exchange_id] <= last_answer  # type: ignore[index]
            )
        result.warmup_errors = warm_errors
        return result


BARE_APP = """
import json, sys
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI()

@app.post("/v1/inbound/{fmt}", status_code=202)
async def inbound(fmt: str, request: Request) -> JSONResponse:
    record = json.loads(await request.body())
    return JSONResponse({"exchange_id": None, "fields": len(record)}, status_code=202)

@app.get("/readyz")
async def readyz() -> dict:
    return {"status": "ready"}

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def run_bare(args: argparse.Namespace, workdir: Path, name: str = "bare FastAPI") -> Result:
    """The same load on a FastAPI endpoint that only parses the JSON (same uvicorn settings)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = workdir / "bare.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    with child([sys.executable, "-c", BARE_APP, str(port)], env, log) as process:
        wait_ready(f"{base}/readyz", process, log, timeout=60)
        url = f"{base}/v1/inbound/{FORMAT}"
        load(url, bodies(args.warmup, first=900_000), args, 30)
        meter = CpuMeter({"bare server": process.pid})
        with meter:
            samples = load(url, bodies(args.bare_requests), args, args.duration)
        result = summarise(name, samples, ok_status=202)
        result.cpu = meter.used
        return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--requests", type=int, default=3000, help="requests per target")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds at most per target")
    parser.add_argument(
        "--bare-requests",
        type=int,
        default=15000,
        help="requests to the bare endpoint (more than --requests: it is ~30x faster, and a "
        "rate over less than a second is noise)",
    )
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument(
        "--client",
        choices=["raw", "httpx"],
        default="raw",
        help="load client: a minimal asyncio HTTP/1.1 client (default) or httpx.AsyncClient",
    )
    parser.add_argument("--warmup", type=int, default=100, help="requests before measuring")
    parser.add_argument(
        "--workers", type=int, default=1, help="gateway API processes (serve --workers)"
    )
    parser.add_argument(
        "--drain-timeout", type=float, default=60.0, help="seconds to wait for deliveries"
    )
    parser.add_argument(
        "--db-latency-ms",
        type=float,
        default=0.0,
        help="PostgreSQL behind a proxy adding this delay each way (a remote database)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temp dir (gateway logs, SQLite store)"
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-ups

    stores = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    print(
        f"machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), "
        f"Python {platform.python_version()}, {platform.platform()}",
        flush=True,
    )
    results: list[Result] = []
    with ExitStack() as stack:
        if args.keep:
            workdir = Path(tempfile.mkdtemp(prefix="isg-bench-"))
            print(f"logs and SQLite stores kept in {workdir}", flush=True)
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="isg-bench-")))
        # The bare endpoint is measured before and after the gateway, and the gateway
        # compared with the mean: these machines' speed drifts by a third over minutes,
        # and one measurement at one end of the run made the ratio swing with it.
        bares: list[Result] = []
        print("[bare] FastAPI + uvicorn, json.loads only (before)", flush=True)
        bares.append(run_bare(args, workdir, "bare FastAPI, before"))
        print_result(bares[-1])
        with EmbeddedBroker() as broker:
            print(f"broker: {broker.bootstrap}", flush=True)
            for store in stores:
                results.append(run_gateway(store, broker, args, workdir))
                print_result(results[-1])
        print("[bare] FastAPI + uvicorn, json.loads only (after)", flush=True)
        bares.append(run_bare(args, workdir, "bare FastAPI, after"))
        print_result(bares[-1])
    reference = statistics.fmean(b.accepted_rate for b in bares)

    print()
    print(f"summary (concurrency {args.concurrency}; target >= 500 delivered/s, >= 1/4 of bare)")
    columns = ["target", "requests", "accepted/s", "delivered/s", "HTTP p50", "HTTP p99"]
    columns += ["e2e p50", "e2e p99", "vs bare"]
    rows = []
    for r in [*results, *bares]:
        gateway = all(r is not b for b in bares)
        rate = r.delivered_rate if gateway else r.accepted_rate
        rows.append(
            [
                r.name,
                str(r.requests),
                f"{r.accepted_rate:.0f}",
                f"{r.delivered_rate:.0f}" if gateway else "-",
                f"{ms(percentile(r.http_latencies, 50))} ms",
                f"{ms(percentile(r.http_latencies, 99))} ms",
                f"{ms(percentile(r.e2e_latencies, 50))} ms" if gateway else "-",
                f"{ms(percentile(r.e2e_latencies, 99))} ms" if gateway else "-",
                f"{rate / reference:.3f}",
            ]
        )
    widths = [max(len(row[i]) for row in [columns, *rows]) for i in range(len(columns))]
    for row in [columns, *rows]:
        print(
            "  ".join(
                cell.rjust(w) if i else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    print(
        "(vs bare = delivered/s of the gateway / the mean of the bare endpoint's accepted/s "
        f"before and after: {reference:.0f})"
    )
    low, high = sorted(b.accepted_rate for b in bares)
    if high > 1.1 * low:
        print(
            f"note: the bare endpoint ran {high / low - 1:.0%} faster at one end of the run "
            "than at the other: the machine's speed changed meanwhile; compare CPU per exchange"
        )
    for r in results:
        if r.errors or r.warmup_errors or r.delivered < r.accepted:
            print(
                f"{r.name}: errors {r.errors or 'none'}, warm-up errors "
                f"{r.warmup_errors or 'none'}, undelivered {r.accepted - r.delivered}"
            )
    failed = any(r.errors or r.delivered < r.accepted for r in results) or any(
        b.errors for b in bares
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
