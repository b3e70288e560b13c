"""The HTTP server's span and request metrics: one ASGI middleware.

Written here rather than taken from ``opentelemetry-instrumentation-fastapi``
(no release of it matches the SDK the gateway runs on), and smaller: one
server span a request, named by its route template, continuing the caller's
W3C ``traceparent``; the request counted by method, route template and status,
and timed. The span carries the method, the route template and the status,
never the path or the query (a path or a query may name a person), nor the
caller's address.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from opentelemetry import propagate
from opentelemetry.trace import SpanKind, Status, StatusCode

from gateway.telemetry import metrics
from gateway.telemetry.tracing import started

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The route label of a request no route matched (a 404): one series, not one a path.
UNMATCHED = "unmatched"
#: Methods labelled as themselves; any other is "other" (a client picks the method).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: The headers a caller's trace context travels in.
TRACE_HEADERS = (b"traceparent", b"tracestate")


def route_template(scope: Scope) -> str:
    """The matched route's template (``/v1/exchanges/{exchange_id}``), never the path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    return UNMATCHED


def _trace_context(scope: Scope) -> dict[str, str] | None:
    found = {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in scope.get("headers", ())
        if name in TRACE_HEADERS
    }
    return found if "traceparent" in found else None


class Telemetry:
    """Wraps the app: a server span and the request metrics for each HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        begun = time.perf_counter()
        method = str(scope.get("method", "GET"))
        method = method if method in METHODS else "other"
        carried = _trace_context(scope)
        context = propagate.extract(carried) if carried else None
        status = 500  # what the server answers when the app raises before answering

        async def answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        with started(method, kind=SpanKind.SERVER, context=context) as span:
            try:
                await self.app(scope, receive, answer)
            finally:
                route = route_template(scope)
                if span.is_recording():
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.request.method", method)
                    span.set_attribute("http.route", route)
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR, str(status)))
                metrics.HTTP_REQUESTS.labels(method, route, str(status)).inc()
                metrics.HTTP_DURATION.labels(method, route).observe(time.perf_counter() - begun)
