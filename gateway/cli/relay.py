"""``gateway relay``: outbox relay workers only, beside API processes that run without one."""

from __future__ import annotations

import typer

from gateway.cli.common import DataDir, configure_logging, fail, settings_for, start_runtime


def relay(data_dir: DataDir = None) -> None:
    """Run outbox relay workers only (beside API processes that run without one)."""
    import signal
    import threading

    configure_logging()
    settings = settings_for(data_dir)
    if not settings.external:
        raise fail("gateway relay needs GATEWAY_DATABASE_URL and GATEWAY_KAFKA_BOOTSTRAP")
    runtime = start_runtime(settings, run_api=False)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    counts = ", ".join(
        f"{c.name} {settings.relay_workers or c.workers}" for c in runtime.relay.channels
    )
    typer.echo(f"relay running, worker threads per channel: {counts}")
    try:
        stop.wait()
    finally:
        runtime.stop()
