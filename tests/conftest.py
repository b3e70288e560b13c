"""Shared fixtures: one real broker per test session, real SQLite and PostgreSQL stores,
and the gateway served by a real uvicorn on loopback."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from kafka import KafkaConsumer, TopicPartition

from adapters.registry import load_registry
from gateway.api import create_app
from gateway.delivery import outbox
from gateway.delivery.outbox import OutboxMessage
from gateway.embedded.broker import EmbeddedBroker, free_port
from gateway.pipeline.flow import Pipeline
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.store import Store
from gateway.store.tables import exchanges
from tests.partner_clients import PARTNER_CLIENTS

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PG_ADMIN_URL = os.environ.get("ISG_TEST_PG_ADMIN", "postgresql+psycopg:///postgres")
TEST_KEY = "test-pseudonym-key"

STORES = ["sqlite", "postgresql"]


def exchange_row(exchange_id: str) -> dict[str, Any]:
    """The columns an ``exchanges`` row needs, for tests that write the store
    directly (``envelope`` a value, as ``exchanges.insert()`` takes it)."""
    return dict(
        exchange_id=exchange_id,
        source_partner="p",
        format="police",
        category="crime_record",
        purpose="x",
        urgency="routine",
        case_reference=None,
        submitted_at=datetime.now(UTC),
        policy_version="v",
        envelope={},
    )


def enqueue_deliveries(store: Store, keys: list[str], destination: str = "topic-a") -> list[str]:
    """One exchange with an outbox row per message key, committed; their delivery ids."""
    delivery_ids = [str(uuid.uuid4()) for _ in keys]
    exchange_id = str(uuid.uuid4())
    with store.transaction() as conn:
        conn.execute(exchanges.insert().values(**exchange_row(exchange_id)))
        messages = [
            OutboxMessage(delivery_id, exchange_id, "r", "kafka", destination, key, "{}", {})
            for delivery_id, key in zip(delivery_ids, keys, strict=True)
        ]
        outbox.enqueue(conn, outbox.outbox_rows(messages))
    return delivery_ids


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as running:
        yield running


class PostgresDatabases:
    """Creates throwaway databases on the local PostgreSQL and drops them at the end."""

    def __init__(self, admin_url: str) -> None:
        self.admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []

    def new(self) -> str:
        name = f"gw_test_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return self.admin.url.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in self.created:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases(PG_ADMIN_URL)
    yield databases
    databases.drop_all()


@pytest.fixture
def store_url_factory(tmp_path: Path, postgres: PostgresDatabases):
    """A fresh, empty store URL of the requested kind."""

    def make(kind: str) -> str:
        if kind == "sqlite":
            return f"sqlite:///{tmp_path / f'store-{uuid.uuid4().hex[:6]}.db'}"
        return postgres.new()

    return make


@pytest.fixture(params=STORES)
def fresh_store(request, store_url_factory) -> Iterator[Store]:
    """An empty, migrated store of each kind."""
    store = Store.from_url(store_url_factory(request.param))
    store.upgrade()
    yield store
    store.engine.dispose()


@dataclass
class RunningGateway:
    runtime: Runtime
    base_url: str
    store_kind: str

    @property
    def store(self) -> Store:
        return self.runtime.store

    @property
    def bootstrap(self) -> str:
        return self.runtime.bootstrap

    def client(self, partner: str | None = "cheshire-police") -> httpx.Client:
        """A client calling as ``partner``'s registered system (None: no credentials)."""
        headers = {} if partner is None else self.auth(partner)
        return httpx.Client(base_url=self.base_url, timeout=30, headers=headers)

    def auth(self, partner: str, scope: str | None = None) -> dict[str, str]:
        """``Authorization`` with a real access token from this gateway for ``partner``."""
        return PARTNER_CLIENTS.headers(self.base_url, partner, scope)

    def topic(self, recipient: str) -> str:
        return f"{self.runtime.settings.topic_prefix}.v1.deliveries.{recipient}"

    def wait_drained(self, timeout: float = 15.0) -> None:
        """Wait until the relay has published every outbox row."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.store.engine.connect() as conn:
                pending = conn.execute(
                    sa.text("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
                ).scalar_one()
            if pending == 0:
                return
            time.sleep(0.1)
        raise AssertionError(f"{pending} outbox rows still pending after {timeout}s")

    def published_messages(self) -> int:
        """How many messages sit on all of this gateway's topics, once the outbox is drained."""
        self.wait_drained()
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap)
        try:
            prefix = self.runtime.settings.topic_prefix + "."
            partitions = [
                TopicPartition(topic, p)
                for topic in consumer.topics()
                if topic.startswith(prefix)
                for p in consumer.partitions_for_topic(topic) or ()
            ]
            return sum(consumer.end_offsets(partitions).values()) if partitions else 0
        finally:
            consumer.close()

    def count_rows(self) -> dict[str, int]:
        """Row counts once the relay is idle (it appends transmission audit entries)."""
        self.wait_drained()
        with self.store.engine.connect() as conn:
            return {
                table: conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
                for table in ("exchanges", "audit_log", "outbox")
            }


def api_port() -> int:
    """A free port below the kernel's ephemeral range, for a gateway's API.

    A gateway on the embedded default starts its broker on a port the kernel
    picks (``bind`` to port 0); a port from ``free_port()`` has just been handed
    back to that same range, and once the broker was given it too."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for _ in range(200):
        port = random.randrange(max(1024, low - 12000), low)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port below the ephemeral range")


def process_env(
    url: str, bootstrap: str, prefix: str, data_dir: Path, **more: str
) -> dict[str, str]:
    """The environment of a gateway started as its own process (``serve``, ``relay``):
    this test's store, broker, topic prefix and partner clients, and none of the
    caller's GATEWAY_* or OTEL_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "OTEL_"))}
    env.update(
        GATEWAY_DATABASE_URL=url,
        GATEWAY_KAFKA_BOOTSTRAP=bootstrap,
        GATEWAY_PSEUDONYM_KEY=TEST_KEY,
        GATEWAY_TOPIC_PREFIX=prefix,
        GATEWAY_DATA_DIR=str(data_dir),
        GATEWAY_RELAY_POLL_SECONDS="0.1",
        GATEWAY_CLIENTS_FILE=str(PARTNER_CLIENTS.path),
        PYTHONUNBUFFERED="1",  # its log lines arrive as written
        **more,
    )
    return env


def wait_until_ready(base: str, process: subprocess.Popen, timeout: float = 60) -> None:
    """Poll ``/readyz`` of a gateway started as ``process``; fail with its output if it dies."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"the gateway exited with {process.returncode}: {output}")
        assert time.monotonic() < deadline, f"{base} did not become ready"
        time.sleep(0.3)


def serve_in_thread(runtime: Runtime) -> tuple[uvicorn.Server, threading.Thread, str]:
    return serve_app(create_app(runtime))


def serve_app(app) -> tuple[uvicorn.Server, threading.Thread, str]:
    """Any ASGI app on a real uvicorn, loopback, in a daemon thread."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


def start_gateway(
    kind: str, store_url: str, bootstrap: str, data_dir: Path, **overrides: object
) -> tuple[RunningGateway, uvicorn.Server, threading.Thread]:
    Store.from_url(store_url).upgrade()
    settings = Settings(
        data_dir=data_dir,
        database_url=store_url,
        kafka_bootstrap=bootstrap,
        topic_prefix=f"t{uuid.uuid4().hex[:8]}",
        pseudonym_key=TEST_KEY,
        **{
            "relay_poll_seconds": 0.2,
            "clients_file": PARTNER_CLIENTS.path,
            # Every test calls from 127.0.0.1: the per-address limit has its own test.
            "rate_limit_per_address": "10000/second",
            **overrides,
        },
    )
    runtime = Runtime(settings).start()
    server, thread, base = serve_in_thread(runtime)
    return RunningGateway(runtime, base, kind), server, thread


@pytest.fixture(scope="session", params=STORES)
def gateway(request, broker, postgres, tmp_path_factory) -> Iterator[RunningGateway]:
    """The gateway on each store kind, shared by the tests of a session."""
    kind = request.param
    data_dir = tmp_path_factory.mktemp(f"gw-{kind}")
    url = f"sqlite:///{data_dir / 'gateway.db'}" if kind == "sqlite" else postgres.new()
    running, server, thread = start_gateway(kind, url, broker.bootstrap, data_dir)
    yield running
    server.should_exit = True
    thread.join(timeout=10)
    running.runtime.stop()


@pytest.fixture
def police_sample() -> bytes:
    return (EXAMPLES / "police" / "stalking-crime.json").read_bytes()


def recording_pipeline(store: Store, bundle: Any) -> Pipeline:
    """The pipeline over ``store`` and a fixed policy ``bundle``, no broker: what it
    submits is recorded (exchanges, decisions, audit, outbox), never relayed."""
    return Pipeline(
        registry=load_registry(),
        store=store,
        policy=lambda: bundle,
        topic_prefix="test",
        pseudonym_key=b"k",
    )
