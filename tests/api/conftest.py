"""A gateway on SQLite for the API document's tests: what is checked here does not
depend on the store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import RunningGateway, start_gateway


@contextmanager
def sqlite_gateway(bootstrap: str, data_dir: Path, **overrides: object) -> Iterator[RunningGateway]:
    running, server, thread = start_gateway(
        "sqlite", f"sqlite:///{data_dir / 'gateway.db'}", bootstrap, data_dir, **overrides
    )
    try:
        yield running
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        running.runtime.stop()


@pytest.fixture(scope="module")
def api_gateway(broker, tmp_path_factory) -> Iterator[RunningGateway]:
    with sqlite_gateway(broker.bootstrap, tmp_path_factory.mktemp("gw-api")) as running:
        yield running
