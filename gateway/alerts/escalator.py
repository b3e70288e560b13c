"""The escalation clock's hand: takes every step whose deadline has passed.

Runs beside the relay, in every process that relays; the store decides which
process takes a step (see ``clock.escalate_due``), so running several is safe
and a restart picks up where the last process stopped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError

from gateway.alerts.clock import Escalated, escalate_due
from gateway.errors import ServiceUnavailable
from gateway.store.db import Store

log = logging.getLogger(__name__)


def keep_escalating(
    store: Store,
    stop: threading.Event,
    interval_seconds: float,
    on_step: Callable[[Escalated], None] = lambda step: None,
) -> None:
    """Every ``interval_seconds`` until ``stop``: take the due steps, then tell
    ``on_step`` of each (the people of the next desk are notified there)."""
    while not stop.wait(interval_seconds):
        try:
            steps = escalate_due(store, datetime.now(UTC))
        except (SQLAlchemyError, ServiceUnavailable) as exc:
            log.warning("escalation check failed, trying again: %s", type(exc).__name__)
            continue
        for step in steps:
            log.info(
                "escalated %s for %s to step %d (%s)",
                step.exchange_id,
                step.recipient,
                step.step,
                "no steps left" if step.exhausted else step.desk,
            )
            try:
                on_step(step)
            except Exception:  # a notifier's failure must not stop the clock
                log.exception("telling the next step of %s failed", step.exchange_id)
