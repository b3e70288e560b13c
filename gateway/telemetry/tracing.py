"""Traces: the tracer provider, its exporters from the standard ``OTEL_*``
variables, and the spans of the pipeline's stages.

The variables are the OpenTelemetry SDK's own (docs/telemetry.md lists them):

- ``OTEL_TRACES_EXPORTER``: ``otlp``, ``console`` or ``none`` (a comma list for
  several). Unset: ``otlp`` where an OTLP endpoint variable is set, else none,
  so a gateway nobody collects from does not keep dialling localhost:4318.
- ``OTEL_EXPORTER_OTLP_PROTOCOL`` (or its ``_TRACES_`` form): ``http/protobuf``
  (the default) or ``grpc``; the endpoint, headers, certificates, timeout and
  compression variables are read by the exporter itself.
- ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``: the resource.
- ``OTEL_TRACES_SAMPLER``, ``OTEL_TRACES_SAMPLER_ARG``: the sampler. Unset:
  parent-based, at ``GATEWAY_TRACE_SAMPLE_RATIO`` for traces the gateway starts.
- ``OTEL_SDK_DISABLED=true``: no provider at all (and no trace context in messages).

Spans not sampled still carry a trace id into every message's headers, at a
fraction of a recorded span's cost; a stage's span exists only where its
exchange's span is recorded.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from contextvars import Token
from importlib.metadata import PackageNotFoundError, version
from types import TracebackType

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

#: The service name unless ``OTEL_SERVICE_NAME`` says otherwise.
SERVICE = "isg-gateway"
EXPORTERS = ("otlp", "console", "none")
PROTOCOLS = ("http/protobuf", "grpc")

tracer = trace.get_tracer("isg.gateway")


class TelemetryConfigError(ValueError):
    """An ``OTEL_*`` variable the gateway cannot act on: the start fails, saying which."""


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def _one_line(span: ReadableSpan) -> str:
    """The console exporter's form: one JSON object a line, for a terminal or a log shipper."""
    return str(span.to_json(indent=None)) + "\n"


def span_processors(env: Mapping[str, str]) -> list[SpanProcessor]:
    """The processors ``OTEL_TRACES_EXPORTER`` asks for (none: spans are made, not sent)."""
    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    names = env.get("OTEL_TRACES_EXPORTER") or ("otlp" if endpoint else "none")
    processors: list[SpanProcessor] = []
    for name in (n.strip().lower() for n in names.split(",") if n.strip()):
        if name == "none":
            continue
        if name == "console":
            # Spans as they end: a developer reads them beside the log.
            console = ConsoleSpanExporter(out=sys.stdout, formatter=_one_line)
            processors.append(SimpleSpanProcessor(console))
        elif name == "otlp":
            processors.append(BatchSpanProcessor(_otlp_exporter(env)))
        else:
            raise TelemetryConfigError(
                f"OTEL_TRACES_EXPORTER={names}: {name!r} is not one of {', '.join(EXPORTERS)}"
            )
    return processors


def _otlp_exporter(env: Mapping[str, str]) -> SpanExporter:
    protocol = (
        env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcExporter,
        )

        return GrpcExporter()
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HttpExporter,
        )

        return HttpExporter()
    raise TelemetryConfigError(
        f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol}: the gateway exports traces over "
        f"{' or '.join(PROTOCOLS)}"
    )


def resource(env: Mapping[str, str], service: str) -> Resource:
    """``OTEL_SERVICE_NAME`` wins over the gateway's own name; ``OTEL_RESOURCE_ATTRIBUTES``
    is read by the SDK."""
    try:
        release = version("isg-gateway")
    except PackageNotFoundError:  # run from a tree that was never installed
        release = "unknown"
    return Resource.create(
        {SERVICE_NAME: env.get("OTEL_SERVICE_NAME") or service, SERVICE_VERSION: release}
    )


def install_tracing(
    sample_ratio: float,
    service: str = SERVICE,
    env: Mapping[str, str] | None = None,
) -> TracerProvider | None:
    """Install the process's tracer provider, once, with the exporters ``env`` (the
    environment) asks for; the provider in force, or None when the SDK is disabled.

    A provider already installed (an earlier runtime in this process, a test's)
    is kept as it is: OpenTelemetry allows one per process.
    """
    env = os.environ if env is None else env
    installed = trace.get_tracer_provider()
    if isinstance(installed, TracerProvider):
        return installed
    if _flag(env.get("OTEL_SDK_DISABLED")):
        return None
    processors = span_processors(env)  # a bad variable fails before anything is installed
    # The SDK reads OTEL_TRACES_SAMPLER itself when given no sampler.
    sampler = (
        None if env.get("OTEL_TRACES_SAMPLER") else ParentBased(TraceIdRatioBased(sample_ratio))
    )
    provider = TracerProvider(sampler=sampler, resource=resource(env, service))
    for processor in processors:
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    return provider


def install_tracer_provider(sample_ratio: float) -> None:
    """``install_tracing`` for callers that only need a provider in place (tests, benches)."""
    install_tracing(sample_ratio)


def flush(timeout_millis: int = 5000) -> None:
    """Send what the exporters hold (a process about to stop: the provider's own
    exit hook runs too late for a relay stopped by a signal's ``finally``)."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.force_flush(timeout_millis)


# -- spans ---------------------------------------------------------------------
def failed(span: Span, exc: BaseException) -> None:
    """Mark ``span`` failed by the exception's type alone: its message may quote a value."""
    kind = type(exc).__name__
    span.set_status(Status(StatusCode.ERROR, kind))
    span.set_attribute("error.type", kind)


class Started:
    """A span made current for the block; an exception marks it failed by type only
    (never recorded as an event: its message and traceback may quote a value).

    A class, not a generator: it is entered for every exchange, and each layer of
    generator-based context manager costs the pipeline measurable CPU."""

    __slots__ = ("_span", "_token")
    _token: Token[Context]

    def __init__(
        self,
        name: str,
        *,
        kind: SpanKind = SpanKind.INTERNAL,
        context: Context | None = None,
        attributes: Mapping[str, AttributeValue] | None = None,
    ) -> None:
        self._span = tracer.start_span(name, context=context, kind=kind, attributes=attributes)

    def __enter__(self) -> Span:
        self._token = otel_context.attach(trace.set_span_in_context(self._span))
        return self._span

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        otel_context.detach(self._token)
        if exc is not None:
            failed(self._span, exc)
        self._span.end()


def started(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    context: Context | None = None,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> Started:
    """``with started(name) as span:``: ``name``'s span, current for the block."""
    return Started(name, kind=kind, context=context, attributes=attributes)


class _Unrecorded:
    """A stage of an exchange whose span is not recorded: no span, next to no cost."""

    __slots__ = ()

    def __enter__(self) -> Span:
        return trace.INVALID_SPAN

    def __exit__(self, *_exc: object) -> None:
        return None


UNRECORDED = _Unrecorded()


def stage(name: str, **attributes: AttributeValue) -> AbstractContextManager[Span]:
    """One pipeline stage's span, a child of the current span when that is recorded;
    otherwise no span at all (the stages of an exchange not sampled cost nothing)."""
    if not trace.get_current_span().is_recording():
        return UNRECORDED
    return started(name, attributes=attributes)


def children(name: str, parents: Sequence[Span]) -> list[Span]:
    """A span named ``name`` under each sampled span of ``parents``, started now and
    not made current (the caller ends each, with ``settle``); the invalid span for
    the others."""
    # Sampled, not recording: the exchange's span has ended by the time it commits.
    return [
        tracer.start_span(name, context=trace.set_span_in_context(parent))
        if parent.get_span_context().trace_flags.sampled
        else trace.INVALID_SPAN
        for parent in parents
    ]


def settle(spans: Sequence[Span], failures: Sequence[BaseException | None]) -> None:
    """End each of ``spans``, failed where its failure is not None."""
    for span, failure in zip(spans, failures, strict=False):
        if failure is not None:
            failed(span, failure)
        span.end()


def context_from(headers: Mapping[str, str]) -> Context | None:
    """The W3C trace context carried in ``headers`` (a message's, a row's), or None."""
    if "traceparent" not in headers:
        return None
    return propagate.extract(headers)


def trace_headers(span: Span | None = None) -> dict[str, str]:
    """The W3C trace context of ``span`` (the current span by default), as headers."""
    carrier: dict[str, str] = {}
    context = trace.set_span_in_context(span) if span is not None else None
    propagate.inject(carrier, context=context)
    return carrier


def current_ids() -> tuple[str, str] | None:
    """The current trace id and span id in hex (as the W3C header writes them), or None
    outside any span: for an audit entry or a log line to name its trace."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


def sampled(headers: Mapping[str, str]) -> bool:
    """Whether the trace context ``headers`` carry is sampled (its flags end in 1): the
    relay records its spans only for those, as the parent-based sampler would."""
    parent = headers.get("traceparent", "")
    return len(parent) == 55 and parent[-1] in "13579bdf"


def delivery_span(
    name: str, headers: Mapping[str, str], attributes: Mapping[str, AttributeValue]
) -> Span | None:
    """A producer span continuing the trace a delivery's row carries, started and not
    made current (the caller ends it); None for a trace not sampled, whose message
    keeps the exchange's own trace context."""
    if not sampled(headers):
        return None
    return tracer.start_span(
        name, context=context_from(headers), kind=SpanKind.PRODUCER, attributes=attributes
    )
