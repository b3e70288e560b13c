"""The directory ``prometheus_client`` shares between ``serve --workers``' processes.

Each process writes its counters and histograms to files there and any
worker's ``/metrics`` sums them all, the parent's relay included. The library
reads ``PROMETHEUS_MULTIPROC_DIR`` once, when first imported, so the ``serve``
parent sets it before importing anything that counts, and its workers (started
fresh, not forked) inherit it. Files left by an earlier run would be summed
too, so the directory is emptied first; without one configured, a private
temporary directory is made and removed at the end.

This module must not import ``prometheus_client``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
#: The name older ``prometheus_client`` releases read, still honoured by the current one.
OLD_VARIABLE = "prometheus_multiproc_dir"


def multiprocess_dir() -> Path | None:
    """Where this process's metrics are shared, when they are."""
    value = os.environ.get(VARIABLE) or os.environ.get(OLD_VARIABLE)
    return Path(value) if value else None


def share_metrics() -> Path:
    """Set up the shared directory for this process and the workers it starts: the
    configured one, emptied, or a temporary one, removed when this process exits."""
    if "gateway.telemetry.metrics" in sys.modules and multiprocess_dir() is None:
        raise RuntimeError(
            "the gateway's metrics were created before their shared directory was set"
        )
    configured = multiprocess_dir()
    if configured is not None:
        configured.mkdir(parents=True, exist_ok=True)
        for left in configured.glob("*.db"):
            left.unlink(missing_ok=True)
        return configured
    made = Path(tempfile.mkdtemp(prefix="isg-metrics-"))
    os.environ[VARIABLE] = str(made)
    atexit.register(shutil.rmtree, made, ignore_errors=True)
    return made
