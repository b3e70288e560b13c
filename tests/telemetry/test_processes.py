"""Telemetry across processes: a separate ``gateway relay`` continues the API's trace
(its spans read from its console exporter) and serves its own metrics; under
``serve --workers`` any worker's ``/metrics`` sums every process's counts, the
relaying parent's included."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx

from gateway.api import create_app
from gateway.delivery.reader import read_topic
from gateway.embedded.broker import free_port
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.store import Store
from tests.conftest import (
    TEST_KEY,
    RunningGateway,
    api_port,
    process_env,
    serve_app,
    wait_until_ready,
)
from tests.partner_clients import PARTNER_CLIENTS
from tests.telemetry.conftest import PARTNER, POLICE_SAMPLE, parse, spans_of, traceparent, value

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = Path(sys.executable).parent / "gateway"


class Lines:
    """A child process's output lines as they come, read by a thread."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert process.stdout is not None
        stream = process.stdout
        self._thread = threading.Thread(target=lambda: self.lines.extend(stream), daemon=True)
        self._thread.start()

    def wait_for(self, found, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if (hit := found(line)) is not None:
                    return hit
            time.sleep(0.1)
        raise AssertionError("not in the output:\n" + "".join(self.lines[-30:]))


def _span(line: str) -> dict | None:
    try:
        span = json.loads(line)
    except ValueError:
        return None
    return span if isinstance(span, dict) and "context" in span else None


def test_a_separate_relay_continues_the_trace_and_serves_its_metrics(
    broker, postgres, tmp_path, spans
):
    url = postgres.new()
    Store.from_url(url).upgrade()
    prefix = f"r{uuid.uuid4().hex[:8]}"
    metrics_port = free_port()
    # The API in this process, without a relay: the rows wait for the relay process.
    settings = Settings(
        data_dir=tmp_path / "api",
        database_url=url,
        kafka_bootstrap=broker.bootstrap,
        topic_prefix=prefix,
        pseudonym_key=TEST_KEY,
        clients_file=PARTNER_CLIENTS.path,
        rate_limit_per_address="10000/second",
    )
    runtime = Runtime(settings, run_relay=False).start()
    server, thread, base = serve_app(create_app(runtime))
    api = RunningGateway(runtime, base, "postgresql")
    env = process_env(
        url,
        broker.bootstrap,
        prefix,
        tmp_path / "relay",
        OTEL_TRACES_EXPORTER="console",
        OTEL_SERVICE_NAME="relay-under-test",
        GATEWAY_RELAY_METRICS_PORT=str(metrics_port),
        GATEWAY_LOG_FORMAT="json",
    )
    relay = subprocess.Popen(
        [str(GATEWAY), "relay"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = Lines(relay)
    try:
        output.wait_for(lambda line: line if "relay running" in line else None)
        header, trace_id, _partner_span = traceparent()
        with api.client("cheshire-police") as client:
            answer = client.post(
                "/v1/inbound/police",
                content=POLICE_SAMPLE.read_bytes(),
                headers={**PARTNER, "traceparent": header},
            )
        assert answer.status_code == 202, answer.text
        exchange_id = answer.json()["exchange_id"]
        topic = api.topic("probation-spoc-north")
        (message,) = read_topic(broker.bootstrap, topic, exchange_id=exchange_id, expect=1)

        (exchange,) = [s for s in spans_of(spans, trace_id) if s.name == "exchange"]
        publish = output.wait_for(
            lambda line: span if (span := _span(line)) and span["name"] == f"send {topic}" else None
        )
        # The relay process's span: in the API's trace, under its exchange span, named
        # by the message it sent, from a service of its own.
        assert publish["context"]["trace_id"] == f"0x{trace_id}"
        assert publish["parent_id"] == f"0x{exchange.context.span_id:016x}"
        assert publish["kind"] == "SpanKind.PRODUCER"
        assert publish["resource"]["attributes"]["service.name"] == "relay-under-test"
        carried = message["headers"]["traceparent"].split("-")
        assert f"0x{carried[2]}" == publish["context"]["span_id"]

        # Its own metrics, on its own port.
        api.wait_drained()
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10)
        assert scraped.status_code == 200
        series = parse(scraped.text)
        copies = len(answer.json()["recipients"])
        assert value(series, "isg_relay_delivered_total", channel="kafka") == copies
        assert value(series, "isg_outbox_pending") == 0
        assert value(series, "isg_broker_available") == 1
        version = answer.json()["policy_version"]
        assert [s for s in series if s[0] == "isg_policy_info" and ("version", version) in s[2]]
        # Its log lines are JSON too (the console's spans are on the same stream).
        logged = [json.loads(line) for line in output.lines if line.startswith('{"time"')]
        assert any(line["logger"].startswith("gateway.") for line in logged)
    finally:
        relay.send_signal(signal.SIGTERM)
        relay.wait(timeout=30)
        server.should_exit = True
        thread.join(timeout=10)
        runtime.stop()
    assert relay.returncode == 0, "".join(output.lines[-30:])


def test_workers_metrics_sum_every_process(broker, postgres, tmp_path):
    url = postgres.new()
    Store.from_url(url).upgrade()
    prefix = f"w{uuid.uuid4().hex[:8]}"
    shared = tmp_path / "prometheus"
    shared.mkdir()
    stale = shared / "counter_4242.db"
    stale.write_bytes(b"left by an earlier run")
    env = process_env(
        url,
        broker.bootstrap,
        prefix,
        tmp_path / "data",
        PROMETHEUS_MULTIPROC_DIR=str(shared),
        GATEWAY_RATE_LIMIT_PER_CLIENT="100000/second",
    )
    port = api_port()
    serve = subprocess.Popen(
        [str(GATEWAY), "serve", "--port", str(port), "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = Lines(serve)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base, serve)
        assert not stale.exists(), "files of an earlier run are summed too: cleared at start"
        auth = PARTNER_CLIENTS.headers(base, "cheshire-police")
        # Connections keep to one worker each; the kernel spreads them over both.
        submitted = 6
        recipients = 0
        for _ in range(submitted):
            with httpx.Client(base_url=base, headers=auth, timeout=30) as client:
                answer = client.post(
                    "/v1/inbound/police", content=POLICE_SAMPLE.read_bytes(), headers=PARTNER
                )
            assert answer.status_code == 202, answer.text
            recipients += len(answer.json()["recipients"])

        def scrape() -> dict:
            with httpx.Client(base_url=base, timeout=10) as client:  # a new connection
                return parse(client.get("/metrics").text)

        deadline = time.monotonic() + 30
        while True:
            series = scrape()
            delivered = value(series, "isg_relay_delivered_total", channel="kafka")
            if delivered >= recipients or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        # Deliveries are counted by the parent's relay, exchanges by whichever worker
        # took each request: every worker's scrape shows them all.
        assert delivered == recipients
        for _ in range(6):
            series = scrape()
            assert value(series, "isg_exchanges_total", format="police", decision="permit") == (
                submitted
            )
            route = {"method": "POST", "route": "/v1/inbound/{fmt}", "status": "202"}
            assert value(series, "isg_http_requests_total", **route) == submitted
        writers = {p.stem.rsplit("_", 1)[1] for p in shared.glob("*.db")}
        assert len(writers) >= 3, f"the parent and both workers write there: {writers}"
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=60)
    assert serve.returncode == 0, "".join(output.lines[-30:])
