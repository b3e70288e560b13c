"""Where each permitted copy of an exchange stands, as the audit trail records it.

The trail is the record a partner and an auditor can rely on: a copy was sent
when its ``transmission`` entry was written (after the broker or the webhook
peer acknowledged it), given up on when its ``undelivered`` entry was, and
put back by an operator's ``redelivery``. Read from the audit log's index on
the exchange, not from the outbox, whose hot inserts carry no such index.

A withdrawal notice travels as a delivery of the same exchange; its
``withdrawal`` entry names the notices, and their transmissions are not taken
for the copy's own (the copy was sent; the notice is shown by ``withdrawn_at``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.audit.chain import Action
from gateway.store.tables import audit_log

#: What the latest delivery entry for a recipient makes of its copy.
_STATUS = {
    Action.TRANSMISSION: "sent",
    Action.UNDELIVERED: "dead-lettered",
    Action.REDELIVERY: "pending",
}

_EVENTS = (
    sa.select(
        audit_log.c.action, audit_log.c.recipient, audit_log.c.recorded_at, audit_log.c.details
    )
    .where(
        audit_log.c.exchange_id == sa.bindparam("exchange_id"),
        audit_log.c.action.in_([*_STATUS, Action.WITHDRAWAL]),
    )
    .order_by(audit_log.c.seq)
)


def deliveries(
    conn: Connection, exchange_id: str, decisions: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One entry per permitted recipient, in decision order: ``pending`` until the
    trail says otherwise."""
    events = conn.execute(_EVENTS, {"exchange_id": exchange_id}).all()
    return delivery_status(decisions, events)


def delivery_status(decisions: list[dict[str, Any]], events: Sequence[Any]) -> list[dict[str, Any]]:
    """``events``: (action, recipient, recorded_at, details JSON) in chain order."""
    latest: dict[str, dict[str, Any]] = {}
    notices: set[str] = set()
    for action, recipient, recorded_at, details in events:
        facts = json.loads(details)
        if action == Action.WITHDRAWAL:
            notices.update(facts.get("notices", []))
            continue
        if facts.get("delivery_id") in notices:
            continue
        latest[recipient] = {
            "status": _STATUS[action],
            "delivery_id": facts.get("delivery_id"),
            "channel": facts.get("channel"),
            "at": recorded_at,
        }
    permitted = [d["recipient"] for d in decisions if d.get("effect") == "permit"]
    return [
        {
            "recipient": recipient,
            **latest.get(
                recipient, {"status": "pending", "delivery_id": None, "channel": None, "at": None}
            ),
        }
        for recipient in permitted
    ]
