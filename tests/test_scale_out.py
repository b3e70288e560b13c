"""Scaling out: several API processes (`serve --workers`) and relay-only processes
(`gateway relay`) on one external store and broker, migrated as the Helm chart does."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from gateway.api.worker_pool import QUICK_EXIT_SECONDS
from gateway.cli import app
from gateway.delivery.reader import read_topic
from gateway.store import Store
from tests.conftest import EXAMPLES, TEST_KEY, api_port, process_env, wait_until_ready
from tests.deploy.chart import migrations_command
from tests.partner_clients import PARTNER_CLIENTS

ROOT = Path(__file__).resolve().parent.parent
GATEWAY = Path(sys.executable).parent / "gateway"
PARTNER = {"Content-Type": "application/json"}
#: One test client sends everything: no limit of a partner system should apply.
NO_RATE_LIMIT = {"GATEWAY_RATE_LIMIT_PER_CLIENT": "100000/second"}


def _gateway(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(GATEWAY), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_workers_need_an_external_store_and_broker(tmp_path, monkeypatch):
    for key in list(os.environ):
        if key.startswith("GATEWAY_"):
            monkeypatch.delenv(key)
    result = CliRunner().invoke(app, ["serve", "--workers", "2", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "--workers needs GATEWAY_DATABASE_URL" in result.output


def _migrate_as_the_chart_does(env: dict[str, str]) -> None:
    """The Helm chart's migrations Job's command, taken from the rendered Job (so the two
    cannot drift), run against the store before any gateway process starts."""
    args = migrations_command()
    assert args == ["db", "upgrade"]
    done = subprocess.run([str(GATEWAY), *args], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("store at migration ")


def test_two_api_workers_and_two_relays_deliver_once(broker, postgres, tmp_path):
    """As the Helm chart runs it: the migrations first, then API processes that do not
    relay (serve --no-relay) and two relay processes, on one store and one broker."""
    url = postgres.new()
    prefix = f"s{uuid.uuid4().hex[:8]}"
    env = process_env(url, broker.bootstrap, prefix, tmp_path, **NO_RATE_LIMIT)
    _migrate_as_the_chart_does(env)
    port = api_port()
    api = _gateway(env, "serve", "--port", str(port), "--workers", "2", "--no-relay")
    relays = [_gateway(env, "relay"), _gateway(env, "relay")]
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_ready(base, api)
        sample = (EXAMPLES / "police" / "stalking-crime.json").read_bytes()
        # Each connection keeps to one worker; the kernel spreads them over both.
        auth = PARTNER_CLIENTS.headers(base, "cheshire-police")
        clients = [httpx.Client(base_url=base, timeout=30, headers=auth) for _ in range(12)]
        try:
            ids = [
                c.post("/v1/inbound/police", content=sample, headers=PARTNER).json()["exchange_id"]
                for c in clients
            ]
            serving = _pids_serving(port)
        finally:
            for c in clients:
                c.close()
        assert len(serving) == 2, f"connections per worker pid: {serving}"
        topic = f"{prefix}.v1.deliveries.probation-spoc-north"
        seen = read_topic(broker.bootstrap, topic, expect=len(ids), timeout=30)
        assert sorted(m["headers"]["exchange-id"] for m in seen) == sorted(ids)
        assert len({m["headers"]["delivery-id"] for m in seen}) == len(ids)
    finally:
        for process in (api, *relays):
            process.send_signal(signal.SIGTERM)
        for process in (api, *relays):
            process.wait(timeout=30)
    assert [relay.returncode for relay in relays] == [0, 0]
    assert api.returncode == 0


def _pids_serving(port: int) -> dict[int, int]:
    """Established connections to ``port``, counted by the process holding them."""
    listing = subprocess.run(
        ["ss", "-Htnp", "state", "established", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    counts: dict[int, int] = {}
    for pid in re.findall(r"pid=(\d+)", listing):
        counts[int(pid)] = counts.get(int(pid), 0) + 1
    return counts


def _worker_pids(parent: int) -> set[int]:
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return {
        int(pid)
        for pid in children
        if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
        and b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    }


@pytest.mark.faults
def test_a_worker_that_dies_is_started_again(postgres, broker, tmp_path):
    url = postgres.new()
    Store.from_url(url).upgrade()
    env = process_env(url, broker.bootstrap, f"w{uuid.uuid4().hex[:8]}", tmp_path, **NO_RATE_LIMIT)
    port = api_port()
    api = _gateway(env, "serve", "--port", str(port), "--workers", "2")
    try:
        wait_until_ready(f"http://127.0.0.1:{port}", api)
        workers = _worker_pids(api.pid)
        assert len(workers) == 2
        victim = min(workers)
        time.sleep(QUICK_EXIT_SECONDS)  # past start-up: a crash, not a failing start
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while True:
            now = _worker_pids(api.pid)
            if len(now) == 2 and victim not in now:
                break
            assert api.poll() is None and time.monotonic() < deadline, now
            time.sleep(0.3)
        wait_until_ready(f"http://127.0.0.1:{port}", api)
    finally:
        api.send_signal(signal.SIGTERM)
        api.wait(timeout=30)
    assert api.returncode == 0


def test_workers_refuse_an_embedded_broker_beside_an_external_store(tmp_path, monkeypatch):
    """Only a store outside the process is not enough: each worker would start a broker."""
    for key in list(os.environ):
        if key.startswith("GATEWAY_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", f"sqlite:///{tmp_path / 'g.db'}")
    for args in (["serve", "--workers", "2"], ["relay"]):
        result = CliRunner().invoke(app, [*args, "--data-dir", str(tmp_path)])
        assert result.exit_code == 2
        assert "GATEWAY_KAFKA_BOOTSTRAP" in result.output


def test_a_relay_only_runtime_builds_no_pipeline(broker, postgres, tmp_path):
    """`gateway relay` and the `serve --workers` parent only relay: no pipeline, no
    group-commit thread, but relay workers running."""
    import threading

    from gateway.runtime import Runtime
    from gateway.settings import Settings

    url = postgres.new()
    Store.from_url(url).upgrade()
    settings = Settings(
        data_dir=tmp_path,
        database_url=url,
        kafka_bootstrap=broker.bootstrap,
        topic_prefix=f"t{uuid.uuid4().hex[:8]}",
        pseudonym_key=TEST_KEY,
    )
    committers_before = sum(t.name == "group-commit" for t in threading.enumerate())
    runtime = Runtime(settings, run_api=False).start()
    try:
        assert not hasattr(runtime, "pipeline")
        assert sum(t.name == "group-commit" for t in threading.enumerate()) == committers_before
        assert runtime.relay._threads and all(t.is_alive() for t in runtime.relay._threads)
    finally:
        runtime.stop()
