"""A copy's status is what the latest delivery entry of the audit trail makes of it."""

from __future__ import annotations

import json

from gateway.delivery.status import delivery_status

DECISIONS = [
    {"recipient": "north", "effect": "permit"},
    {"recipient": "clinic", "effect": "deny"},
    {"recipient": "east", "effect": "permit"},
]


def _event(action: str, recipient: str, at: str, delivery_id: str = "d1") -> tuple:
    details = json.dumps({"delivery_id": delivery_id, "channel": "webhook", "destination": "x"})
    return (action, recipient, at, details)


def _statuses(events: list[tuple]) -> dict[str, str]:
    return {c["recipient"]: c["status"] for c in delivery_status(DECISIONS, events)}


def test_no_entry_yet_is_pending_and_refused_recipients_have_no_copy():
    copies = delivery_status(DECISIONS, [])
    assert copies == [
        {
            "recipient": "north",
            "status": "pending",
            "delivery_id": None,
            "channel": None,
            "at": None,
        },
        {
            "recipient": "east",
            "status": "pending",
            "delivery_id": None,
            "channel": None,
            "at": None,
        },
    ]


def test_dead_lettered_then_put_back_then_sent():
    trail = [_event("undelivered", "north", "t1")]
    assert _statuses(trail) == {"north": "dead-lettered", "east": "pending"}
    trail.append(_event("redelivery", "north", "t2"))
    assert _statuses(trail) == {"north": "pending", "east": "pending"}
    trail += [_event("transmission", "north", "t3"), _event("transmission", "east", "t4", "d2")]
    copies = delivery_status(DECISIONS, trail)
    assert copies == [
        {
            "recipient": "north",
            "status": "sent",
            "delivery_id": "d1",
            "channel": "webhook",
            "at": "t3",
        },
        {
            "recipient": "east",
            "status": "sent",
            "delivery_id": "d2",
            "channel": "webhook",
            "at": "t4",
        },
    ]
