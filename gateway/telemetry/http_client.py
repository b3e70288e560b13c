"""A client span around each outgoing HTTP request, and the trace context sent with it.

An ``httpx`` transport wrapping the real one, written here rather than taken
from ``opentelemetry-instrumentation-httpx`` (no release of it matches the SDK
the gateway runs on). The span is a child of whatever span is current (the
relay's webhook delivery), and its context replaces any ``traceparent`` on the
request, so the peer's own spans hang under this attempt. The span names the
method, the peer's host and port and the status; the URL's path and query are
left out (a path may carry an id the peer uses for a person).
"""

from __future__ import annotations

import httpx
from opentelemetry import propagate
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from gateway.telemetry.tracing import started


class TracingTransport(httpx.BaseTransport):
    """``httpx.Client(transport=TracingTransport())``: each request in a client span."""

    def __init__(self, inner: httpx.BaseTransport | None = None) -> None:
        self.inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        method = request.method
        attributes: dict[str, AttributeValue] = {
            "http.request.method": method,
            "server.address": request.url.host,
            "server.port": request.url.port or (443 if request.url.scheme == "https" else 80),
            "url.scheme": request.url.scheme,
        }
        with started(method, kind=SpanKind.CLIENT, attributes=attributes) as span:
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            for name, value in carrier.items():
                request.headers[name] = value
            response = self.inner.handle_request(request)
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.set_status(Status(StatusCode.ERROR, str(response.status_code)))
            return response

    def close(self) -> None:
        self.inner.close()
