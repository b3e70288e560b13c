"""From the routing rules to the clock and to people: whose desk, who to tell.

The routing rules (``gateway.routing``) say which desks receive a party's copy
now and after each missed deadline; the clock keeps those steps; when a step is
taken, the people who staff its desk are told that an alert waits, with no
personal data (``gateway.notify``), and the audit trail records who was told.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from contracts import Exchange
from gateway.alerts import StepsFor
from gateway.alerts.clock import Escalated, Step
from gateway.audit import Action, AuditEntry
from gateway.notify import Channel, Contacts, Notifier
from gateway.policy import Decision
from gateway.routing import Routes
from gateway.store.audit_log import append
from gateway.store.db import Store

log = logging.getLogger(__name__)

#: The routes in force, asked for each time: they are reloaded with the policy.
RoutesNow = Callable[[], Routes]


def routed_steps(routes: RoutesNow) -> StepsFor:
    """A ``StepsFor`` that asks the routing rules in force, step by step."""

    def steps_for(
        exchange: Exchange, decision: Decision, within: timedelta, now: datetime
    ) -> list[Step]:
        plan = routes().plan(decision.recipient, exchange, now, within)
        return [Step(s.desk, s.party, s.acknowledge_within, s.why) for s in plan.steps]

    return steps_for


def contacts_of(staff: str) -> Contacts | None:
    """A desk's staff member as a contact: an email address is told by secure email;
    an identity provider's subject has no address to tell."""
    if "@" not in staff:
        return None
    return Contacts(email=staff, channels=frozenset({Channel.SECURE_EMAIL}))


def tell_the_next_desk(
    store: Store, routes: RoutesNow, notifier: Notifier, step: Escalated
) -> None:
    """Tell the people of the desk a step reached; audit who was told and how."""
    if step.desk is None or not notifier.enabled:
        return
    desk = routes().desk(step.desk)
    told = []
    for staff in desk.staff:
        contacts = contacts_of(staff)
        if contacts is None:
            continue
        outcome = notifier.notify(contacts, desk.name, step.clock_id)
        told.append({"desk": desk.id, "deliveries": outcome.as_audit()})
    if told:
        with store.transaction() as conn:
            append(
                conn,
                [
                    AuditEntry(
                        action=Action.NOTIFICATION,
                        actor="gateway",
                        recipient=step.party,
                        exchange_id=step.exchange_id,
                        details={"step": step.step, "told": told},
                    )
                ],
            )
