"""The app factory each ``serve --workers`` process calls.

Workers are API-only: they read their settings from the environment (the
``serve`` command exports its options there) and leave delivery to the relay
running in the ``serve`` parent or in ``gateway relay`` processes.
"""

from __future__ import annotations

from fastapi import FastAPI

from gateway.api.app import create_app
from gateway.runtime import Runtime
from gateway.settings import load_settings
from gateway.telemetry.logs import configure_logging


def app_from_environment() -> FastAPI:
    settings = load_settings()
    # After uvicorn's own logging set-up: its lines go through the gateway's handler too.
    configure_logging(settings.log_level, settings.log_format)
    runtime = Runtime(settings, run_relay=False).start()
    return create_app(runtime, stop_runtime_on_shutdown=True)
