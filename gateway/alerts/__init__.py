"""Alerts that must reach a person: acknowledgement clocks and their escalation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from contracts import Exchange
from gateway.alerts.clock import (
    ACKNOWLEDGED,
    EXHAUSTED,
    WAITING,
    Acknowledgement,
    Escalated,
    NoClock,
    Step,
    acknowledge,
    clock_row,
    escalate_due,
    trail,
)
from gateway.policy import Decision
from gateway.policy.model import parse_period

#: A decision's obligation that starts a clock, as Obligations.as_terms words it.
_ACKNOWLEDGE = "acknowledge within "

#: Who is told, step by step, for one permitted copy: the routing rules' plan.
StepsFor = Callable[[Exchange, Decision, timedelta, datetime], list[Step]]


def acknowledge_within(decision: Decision) -> timedelta | None:
    """How long the recipient has to acknowledge its copy, if the flow says."""
    for term in decision.obligations:
        if term.startswith(_ACKNOWLEDGE):
            return parse_period(term.removeprefix(_ACKNOWLEDGE))
    return None


def only_the_recipient(
    exchange: Exchange, decision: Decision, within: timedelta, now: datetime
) -> list[Step]:
    """With no routing rules: the recipient itself, one step."""
    return [Step(decision.recipient, decision.recipient, within, "the recipient")]


def clock_rows(
    exchange: Exchange,
    decisions: list[Decision],
    now: datetime,
    steps_for: StepsFor = only_the_recipient,
) -> list[dict[str, Any]]:
    """A clock for every permitted copy whose flow requires acknowledgement."""
    rows = []
    for decision in decisions:
        within = acknowledge_within(decision) if decision.permitted else None
        if within is None:
            continue
        steps = steps_for(exchange, decision, within, now) or only_the_recipient(
            exchange, decision, within, now
        )
        rows.append(clock_row(str(exchange.exchange_id), decision.recipient, steps, now))
    return rows


__all__ = [
    "ACKNOWLEDGED",
    "EXHAUSTED",
    "WAITING",
    "Acknowledgement",
    "Escalated",
    "NoClock",
    "Step",
    "StepsFor",
    "acknowledge",
    "acknowledge_within",
    "clock_rows",
    "escalate_due",
    "only_the_recipient",
    "trail",
]
