"""Telemetry: traces, metrics and logs, each in a module of its own.

- ``tracing``: the tracer provider and its exporters, configured from the
  standard ``OTEL_*`` variables, and the spans of the pipeline's stages;
- ``asgi``: the HTTP server's span and request metrics, one middleware;
- ``http_client``: a client span around each outgoing HTTP request (webhooks);
- ``metrics``: the Prometheus metrics the gateway counts (``prometheus_client``);
- ``exposition``: ``/metrics``' text, with what is read from the store at scrape
  time, and the relay process's own metrics server;
- ``multiprocess``: the directory ``prometheus_client`` shares between the
  processes of ``serve --workers``;
- ``logs``: JSON or text log lines carrying the trace and span ids.

Nothing here puts a record's values into telemetry: spans carry ids, formats,
parties, rule names and counts, never a field of a record, a URL path or a
query string (a path may name a person), nor an exception's message (it may
quote a value); only the exception's type.

This package's ``__init__`` imports nothing else: ``prometheus_client`` reads
``PROMETHEUS_MULTIPROC_DIR`` when first imported, so ``serve --workers`` must
set it before anything imports ``gateway.telemetry.metrics``.
"""
