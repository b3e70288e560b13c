"""``gateway relay``: outbox relay workers only, beside API processes that run without one."""

from __future__ import annotations

import typer

from gateway.cli.common import DataDir, fail, settings_for, start_runtime
from gateway.telemetry.logs import configure_logging


def relay(data_dir: DataDir = None) -> None:
    """Run outbox relay workers only (beside API processes that run without one);
    their metrics on GATEWAY_RELAY_METRICS_HOST:GATEWAY_RELAY_METRICS_PORT."""
    import signal
    import threading
    from collections.abc import Callable

    settings = settings_for(data_dir)
    configure_logging(settings.log_level, settings.log_format)
    if not settings.external:
        raise fail("gateway relay needs GATEWAY_DATABASE_URL and GATEWAY_KAFKA_BOOTSTRAP")
    runtime = start_runtime(settings, run_api=False)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    counts = ", ".join(
        f"{c.name} {settings.relay_workers or c.workers}" for c in runtime.relay.channels
    )
    stop_metrics: Callable[[], None] | None = None
    if settings.relay_metrics_port:
        from gateway.telemetry.exposition import State, serve_relay_metrics

        state = State(runtime.store, runtime.policy, runtime.broker_up)
        host, port = settings.relay_metrics_host, settings.relay_metrics_port
        stop_metrics = serve_relay_metrics(host, port, state)
        if stop_metrics is not None:
            typer.echo(f"relay metrics on http://{host}:{port}/metrics")
    typer.echo(f"relay running, worker threads per channel: {counts}")
    try:
        stop.wait()
    finally:
        if stop_metrics is not None:
            stop_metrics()
        runtime.stop()
