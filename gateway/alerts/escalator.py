"""The escalation clock's hand: takes every step whose deadline has passed.

Runs beside the relay, in every process that relays; the store decides which
process takes a step (see ``clock.escalate_due``), so running several is safe
and a restart picks up where the last process stopped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError

from gateway.alerts.clock import Escalated, claim_untold, escalate_due
from gateway.errors import ServiceUnavailable
from gateway.store.db import Store
from gateway.telemetry import metrics

log = logging.getLogger(__name__)
#: Threads telling people at once.
TELLERS = 4


def keep_escalating(
    store: Store,
    stop: threading.Event,
    interval_seconds: float,
    on_step: Callable[[Escalated], None] = lambda step: None,
) -> None:
    """Every ``interval_seconds`` until ``stop``: take the due steps, then tell
    ``on_step`` of every desk not told yet: a new alert's first desk at once, and
    each desk an escalation reached (their people are notified there)."""
    # People are told from a small pool: one slow mail server must not hold back
    # the next step of every other clock, nor the telling of the others.
    with ThreadPoolExecutor(max_workers=TELLERS, thread_name_prefix="escalation-tell") as pool:
        while not stop.wait(interval_seconds):
            try:
                steps = escalate_due(store, datetime.now(UTC))
            except (SQLAlchemyError, ServiceUnavailable) as exc:
                log.warning("escalation check failed, trying again: %s", type(exc).__name__)
                continue
            for step in steps:
                metrics.escalated(step.exhausted)
                log.info(
                    "escalated %s for %s to step %d (%s)",
                    step.exchange_id,
                    step.recipient,
                    step.step,
                    "no steps left" if step.exhausted else step.desk,
                )
            # New clocks' first desks, and the desks escalations reached: each once.
            try:
                untold = claim_untold(store)
            except (SQLAlchemyError, ServiceUnavailable) as exc:
                log.warning("telling check failed, trying again: %s", type(exc).__name__)
                continue
            for step in untold:
                pool.submit(_tell, on_step, step)


def _tell(on_step: Callable[[Escalated], None], step: Escalated) -> None:
    try:
        on_step(step)
    except Exception:  # a notifier's failure must not stop the clock
        log.exception("telling the next step of %s failed", step.exchange_id)
