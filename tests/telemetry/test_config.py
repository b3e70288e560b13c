"""Tracing configured from the standard OTEL_* variables, and what a bad one does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as Grpc
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as Http
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
)

from gateway.telemetry.tracing import (
    TelemetryConfigError,
    resource,
    sampled,
    span_processors,
)
from tests.conftest import ROOT

GATEWAY = Path(sys.executable).parent / "gateway"


def _exporters(env: dict[str, str]) -> list[object]:
    return [p.span_exporter for p in span_processors(env)]


def test_nothing_is_exported_unless_asked():
    assert span_processors({}) == []
    assert span_processors({"OTEL_TRACES_EXPORTER": "none"}) == []


def test_an_otlp_endpoint_alone_means_otlp_over_http():
    (processor,) = span_processors({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert isinstance(processor, BatchSpanProcessor)
    assert isinstance(processor.span_exporter, Http)


@pytest.mark.parametrize(
    ("env", "kinds"),
    [
        ({"OTEL_TRACES_EXPORTER": "otlp"}, [Http]),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, [Grpc]),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"},
            [Grpc],
        ),
        ({"OTEL_TRACES_EXPORTER": "console"}, [ConsoleSpanExporter]),
        ({"OTEL_TRACES_EXPORTER": "Console, otlp"}, [ConsoleSpanExporter, Http]),
    ],
)
def test_the_exporters_the_variables_name(env, kinds):
    exporters = _exporters(env)
    assert [type(e) for e in exporters] == kinds
    for processor in span_processors(env):
        # The console's lines appear as spans end; OTLP's go in batches.
        console = isinstance(processor.span_exporter, ConsoleSpanExporter)
        assert isinstance(processor, SimpleSpanProcessor if console else BatchSpanProcessor)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"OTEL_TRACES_EXPORTER": "jaeger"}, "'jaeger' is not one of otlp, console, none"),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
            "OTEL_EXPORTER_OTLP_PROTOCOL=http/json",
        ),
    ],
)
def test_a_variable_the_gateway_cannot_act_on_is_refused(env, named):
    with pytest.raises(TelemetryConfigError, match=named):
        span_processors(env)


def test_the_service_name_is_the_gateways_unless_otel_service_name_says():
    assert resource({}, "isg-gateway").attributes["service.name"] == "isg-gateway"
    named = resource({"OTEL_SERVICE_NAME": "isg-gateway-cheshire"}, "isg-gateway")
    assert named.attributes["service.name"] == "isg-gateway-cheshire"
    assert named.attributes["service.version"]


def test_only_a_sampled_trace_context_is_continued_by_the_relays_spans():
    trace_id, span_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    assert sampled({"traceparent": f"00-{trace_id}-{span_id}-01"})
    assert not sampled({"traceparent": f"00-{trace_id}-{span_id}-00"})
    assert not sampled({})


def test_serve_with_an_unknown_exporter_fails_with_a_plain_message(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "OTEL_"))}
    env["OTEL_TRACES_EXPORTER"] = "zipkin"
    done = subprocess.run(
        [str(GATEWAY), "serve", "--port", "0", "--data-dir", str(tmp_path / "data")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "error: OTEL_TRACES_EXPORTER=zipkin: 'zipkin' is not one of" in done.stderr
    assert "Traceback" not in done.stderr
