"""``gateway serve``: the HTTP API, and on the embedded default its store and broker."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gateway.cli.common import DataDir, fail, settings_for, start_runtime
from gateway.embedded.hosts import is_loopback
from gateway.errors import WorkersFailed
from gateway.telemetry.logs import configure_logging

if TYPE_CHECKING:
    from gateway.runtime import Runtime


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    data_dir: DataDir = None,
    policy_dir: Annotated[
        Path | None, typer.Option("--policy-dir", help="Policy bundle in force.")
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="API processes. More than one needs an external store and broker; "
            "this process then runs the relay.",
        ),
    ] = 1,
    relay: Annotated[
        bool,
        typer.Option(
            help="Relay the outbox in this process too. --no-relay beside separate "
            "`gateway relay` processes (the Helm chart's relay Deployment); external "
            "store and broker only.",
        ),
    ] = True,
) -> None:
    """Run the gateway's HTTP API (and, on the embedded default, its store and broker)."""
    import os

    import uvicorn

    extra = {"policy_dir": policy_dir} if policy_dir else {}
    settings = settings_for(data_dir, **extra)
    configure_logging(settings.log_level, settings.log_format)
    if settings.embedded and not is_loopback(host):
        # Its sample clients' keys lie in the data directory: it is for this machine only.
        raise fail(
            f"--host {host}: the embedded default listens on this machine only (127.0.0.1, "
            "::1, localhost). To serve other machines configure an external store and broker "
            "(GATEWAY_DATABASE_URL, GATEWAY_KAFKA_BOOTSTRAP), GATEWAY_PSEUDONYM_KEY and the "
            "partners' credentials (GATEWAY_CLIENTS_FILE); see docs/operations.md"
        )
    if workers > 1 and not settings.external:
        raise fail(
            "--workers needs GATEWAY_DATABASE_URL and GATEWAY_KAFKA_BOOTSTRAP: "
            "the embedded store and broker belong to one process"
        )
    if not relay and not settings.external:
        raise fail(
            "--no-relay needs GATEWAY_DATABASE_URL and GATEWAY_KAFKA_BOOTSTRAP: "
            "a `gateway relay` elsewhere must be able to reach the same store and broker"
        )
    from gateway.telemetry.multiprocess import multiprocess_dir, share_metrics

    if workers > 1 or multiprocess_dir() is not None:
        # Before anything counts: each process writes its metrics to files there, and
        # any worker's /metrics sums them all (this process's relay included); a
        # configured directory is emptied of an earlier run's files.
        share_metrics()
    from gateway.api import create_app
    from gateway.api.slow_clients import uvicorn_options

    # With workers, this process only relays; the workers build their own pipelines.
    runtime = start_runtime(settings, run_api=workers == 1, run_relay=relay)
    print_urls(runtime, host, port)
    try:
        if workers == 1:
            app_ = create_app(runtime, stop_runtime_on_shutdown=True)
            uvicorn.run(
                app_,
                host=host,
                port=port,
                log_level=settings.log_level.lower(),
                log_config=None,  # uvicorn's lines go through the gateway's handler
                **uvicorn_options(settings.header_timeout_seconds),
            )
        else:
            # Workers read their settings from the environment, as this process did.
            if data_dir is not None:
                os.environ["GATEWAY_DATA_DIR"] = str(data_dir)
            if policy_dir is not None:
                os.environ["GATEWAY_POLICY_DIR"] = str(policy_dir)
            from gateway.api.worker_pool import run_workers

            try:
                run_workers(
                    host,
                    port,
                    workers,
                    log_level=settings.log_level.lower(),
                    header_seconds=settings.header_timeout_seconds,
                )
            except WorkersFailed as exc:
                raise fail(str(exc)) from None
    finally:
        runtime.stop()


def print_urls(runtime: Runtime, host: str, port: int) -> None:
    settings = runtime.settings
    base = f"http://{host}:{port}"
    store_shown = settings.store_url if settings.database_url is None else "(external)"
    typer.echo(
        "\n".join(
            [
                "gateway ready",
                f"  API          {base}/v1/inbound/{{format}}  (formats: "
                f"{', '.join(runtime.registry.names())})",
                f"  API docs     {base}/docs",
                f"  health       {base}/healthz   ready: {base}/readyz   metrics: {base}/metrics",
                f"  store        {store_shown}",
                f"  broker       {runtime.bootstrap}" + ("  (embedded)" if runtime.broker else ""),
                f"  policy       {settings.policy_dir} ({runtime.bundle.version[:19]}...)",
                f"  topics       {', '.join(runtime.topics())}",
            ]
        )
    )
    sys.stdout.flush()
