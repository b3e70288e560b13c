"""A gateway whose copies leave by Kafka and by webhook (one peer that answers, one
that fails, so a copy is dead-lettered), the spans it records, and helpers to read
its metrics and to find a sample record's values in what it emits."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from gateway.delivery.signing import encode_secret
from gateway.telemetry.tracing import install_tracer_provider
from tests.conftest import EXAMPLES, STORES, RunningGateway, serve_app, start_gateway
from tests.delivery.webhook_peer import WebhookPeer

POLICE_SAMPLE = EXAMPLES / "police" / "stalking-crime.json"
PARTNER = {"Content-Type": "application/json"}
SECRET = encode_secret(b"telemetry-tests-webhook-key-32-bytes")
#: The recipient whose webhook answers, and the one whose webhook fails (dead letter).
ANSWERING, FAILING = "probation-spoc-north", "mersey-care-forensic"
#: Sample values shorter than this ("P1", "2A") match ids and hashes by chance.
MIN_LENGTH = 4

#: One series: (metric family, sample name, labels as a sorted tuple of pairs).
Series = tuple[str, tuple[tuple[str, str], ...]]


def traceparent() -> tuple[str, str, str]:
    """A sampled W3C trace context as a partner sends it: (header, trace id, span id)."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


def leaf_values(document: Any) -> set[str]:
    """Every value of a parsed JSON record, as text (MIN_LENGTH characters or more)."""
    if isinstance(document, dict):
        return set().union(*(leaf_values(v) for v in document.values()))
    if isinstance(document, list):
        return set().union(*(leaf_values(v) for v in document)) if document else set()
    text = str(document)
    return {text} if len(text) >= MIN_LENGTH and document is not None else set()


def sample_values(path: Path = POLICE_SAMPLE) -> set[str]:
    values = leaf_values(json.loads(path.read_text(encoding="utf-8")))
    assert {"Daniel", "Marsh", "12/345678A", "1985-03-02", "WA1 1AA"} <= values
    return values


def scrape(gateway: RunningGateway) -> dict[Series, float]:
    """``/metrics`` parsed with prometheus_client's own parser, by series."""
    with gateway.client(None) as client:
        answer = client.get("/metrics")
    assert answer.status_code == 200, answer.text
    return parse(answer.text)


def parse(text: str) -> dict[Series, float]:
    return {
        (family.name, sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(series: dict[Series, float], sample: str, **labels: str) -> float:
    """One series' value (0 when it is not there yet); ``sample`` as exposed, with its
    suffix (``isg_exchanges_total``)."""
    wanted = tuple(sorted(labels.items()))
    for (_family, name, found), number in series.items():
        if name == sample and found == wanted:
            return number
    return 0.0


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Every span finished while the test runs, whatever provider the session has."""
    install_tracer_provider(1.0)  # unless an earlier test of the session installed one
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()  # the session's provider keeps its processor; it records no more


def spans_of(exporter: InMemorySpanExporter, trace_id: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if f"{s.context.trace_id:032x}" == trace_id]


@pytest.fixture(scope="module", params=STORES)
def pushing_gateway(request, broker, postgres, tmp_path_factory) -> Iterator[tuple]:
    """A gateway (on each store) whose ``ANSWERING`` recipient has a webhook that answers
    and whose ``FAILING`` recipient has one that always fails (one attempt, then a dead
    letter); every copy also goes to the recipient's topic."""
    kind = request.param
    data_dir = tmp_path_factory.mktemp(f"telemetry-{kind}")
    answering, failing = WebhookPeer(secret=SECRET), WebhookPeer(secret=SECRET, then="500")
    peers = [serve_app(answering.app()), serve_app(failing.app())]
    hooks = {
        recipient: {
            "webhook": {
                "url": f"{base}/hook",
                "signing_key": SECRET,
                "timeout_seconds": 2,
                "max_attempts": 1,
                "breaker_failures": 1000,
            }
        }
        for recipient, (_server, _thread, base) in zip((ANSWERING, FAILING), peers, strict=True)
    }
    partners = data_dir / "partners.yaml"
    partners.write_text(yaml.safe_dump({"partners": hooks}))
    url = f"sqlite:///{data_dir / 'gateway.db'}" if kind == "sqlite" else postgres.new()
    running, server, thread = start_gateway(
        kind,
        url,
        broker.bootstrap,
        data_dir / "data",
        partners_file=partners,
        escalation_check_seconds=0.1,
    )
    yield running, answering, failing
    server.should_exit = True
    thread.join(timeout=10)
    running.runtime.stop()
    for peer_server, peer_thread, _base in peers:
        peer_server.should_exit = True
        peer_thread.join(timeout=10)
