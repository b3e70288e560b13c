"""Acknowledgement clocks: a copy that must be acknowledged, and what happens if not.

A copy whose flow sets ``acknowledge_within`` starts a clock when it is kept.
The recipient's acknowledgement stops it; a passed deadline moves it to the
next step of its escalation chain (the routing rules' steps, or just the
recipient), and the last step passed leaves it ``exhausted``. The clock lives
in the store, so it survives restarts, and each step is taken with a
compare-and-set on the step number, so several gateway processes never take
the same step twice. Every acknowledgement and escalation is an audit entry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from contracts.ids import new_id_text
from gateway import jsontext
from gateway.audit import Action, AuditEntry
from gateway.store.audit_log import append
from gateway.store.db import Store, as_utc
from gateway.store.tables import alert_clocks
from gateway.telemetry import metrics

WAITING = "waiting"
ACKNOWLEDGED = "acknowledged"
EXHAUSTED = "exhausted"
#: The sender withdrew the record: nobody is to act on it, so nobody is chased.
WITHDRAWN = "withdrawn"
#: The sender corrected the record: the correction's own copy carries a new clock.
SUPERSEDED = "superseded"
#: Who takes an escalation step in the audit trail.
GATEWAY = "gateway"


@dataclass(frozen=True)
class Step:
    """One step of an escalation chain: who is told, and how long they have."""

    desk: str
    party: str
    acknowledge_within: timedelta | None
    why: str = ""

    def as_json(self) -> dict[str, Any]:
        seconds = self.acknowledge_within.total_seconds() if self.acknowledge_within else None
        return {"desk": self.desk, "party": self.party, "seconds": seconds, "why": self.why}


def _within(step: dict[str, Any]) -> timedelta | None:
    seconds = step.get("seconds")
    return None if seconds is None else timedelta(seconds=seconds)


def clock_row(exchange_id: str, recipient: str, steps: list[Step], now: datetime) -> dict[str, Any]:
    """The row that starts a copy's clock at its first step (JSON serialised already)."""
    first = steps[0]
    deadline = now + first.acknowledge_within if first.acknowledge_within else None
    return {
        "clock_id": new_id_text(),
        "exchange_id": exchange_id,
        "recipient": recipient,
        "status": WAITING,
        "step": 0,
        "steps": jsontext.dumps([s.as_json() for s in steps]),
        "deadline": deadline,
        "started_at": now,
        "acknowledged_at": None,
        "acknowledged_by": None,
        "history": jsontext.dumps([{"step": 0, "desk": first.desk, "at": now.isoformat()}]),
        "told_step": None,
    }


class NoClock(LookupError):
    """Nothing of this exchange waits for this party's acknowledgement."""


@dataclass(frozen=True)
class Acknowledgement:
    exchange_id: str
    recipient: str
    acknowledged_at: datetime
    acknowledged_by: str
    already: bool  # acknowledged before: nothing changed


def acknowledge(
    store: Store, exchange_id: str, party: str, by: str, now: datetime
) -> Acknowledgement:
    """The recipient ``party`` acknowledges its copy (``by``: its system or person).

    Only the recipient can: another party has no clock here (NoClock). Saying it
    twice is harmless and answers with the first acknowledgement."""
    table = alert_clocks
    with store.transaction() as conn:
        row = (
            conn.execute(
                sa.select(table).where(
                    table.c.exchange_id == exchange_id, table.c.recipient == party
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NoClock(f"no copy of exchange {exchange_id} waits for {party}'s acknowledgement")
        if row["acknowledged_at"] is not None:
            return Acknowledgement(
                exchange_id, party, as_utc(row["acknowledged_at"]), row["acknowledged_by"], True
            )
        history = [
            *_loads(row["history"]),
            {"step": row["step"], "acknowledged_by": by, "at": now.isoformat()},
        ]
        conn.execute(
            table.update()
            .where(table.c.clock_id == row["clock_id"])
            .values(
                # A withdrawn or superseded copy keeps saying so once acknowledged.
                status=ACKNOWLEDGED if row["status"] in (WAITING, EXHAUSTED) else row["status"],
                acknowledged_at=now,
                acknowledged_by=by,
                deadline=None,
                history=history,
            )
        )
        steps = _loads(row["steps"])
        append(
            conn,
            [
                AuditEntry(
                    action=Action.ACKNOWLEDGEMENT,
                    actor=party,
                    recipient=party,
                    exchange_id=exchange_id,
                    details={
                        "by": by,
                        "step": row["step"],
                        "desk": steps[min(row["step"], len(steps) - 1)]["desk"],
                        "status_before": row["status"],
                    },
                )
            ],
        )
    metrics.acknowledged(now - as_utc(row["started_at"]), row["step"])
    return Acknowledgement(exchange_id, party, now, by, False)


def stop_clocks(conn: Connection, exchange_id: str, status: str, by: str, now: datetime) -> int:
    """Stop every clock of ``exchange_id`` still running (``status``: WITHDRAWN or
    SUPERSEDED), inside the caller's transaction, so a withdrawn or corrected record
    never escalates. Acknowledged clocks keep their answer. Returns how many stopped."""
    table = alert_clocks
    running = conn.execute(
        sa.select(table.c.clock_id, table.c.step, table.c.history).where(
            table.c.exchange_id == exchange_id,
            table.c.status.in_((WAITING, EXHAUSTED)),
        )
    ).all()
    for clock_id, step, history in running:
        note = {"step": step, status: by, "at": now.isoformat()}
        conn.execute(
            table.update()
            .where(table.c.clock_id == clock_id, table.c.status.in_((WAITING, EXHAUSTED)))
            .values(status=status, deadline=None, history=[*_loads(history), note])
        )
    return len(running)


@dataclass(frozen=True)
class Escalated:
    """A step taken: the clock moved on to ``step`` (or ran out of steps)."""

    clock_id: str
    exchange_id: str
    recipient: str
    step: int
    desk: str | None  # None when every step has passed
    party: str | None
    exhausted: bool


def escalate_due(store: Store, now: datetime, limit: int = 100) -> list[Escalated]:
    """Take the next step of every clock whose deadline has passed, one transaction
    each. A clock another process moved first is left alone (compare-and-set)."""
    table = alert_clocks
    with store.engine.connect() as conn:
        due = (
            conn.execute(
                sa.select(table.c.clock_id, table.c.step)
                .where(table.c.status == WAITING, table.c.deadline <= now)
                .order_by(table.c.deadline)
                .limit(limit)
            )
            .mappings()
            .all()
        )
    taken = []
    for clock in due:
        step = _take_step(store, clock["clock_id"], clock["step"], now)
        if step is not None:
            taken.append(step)
    return taken


def _take_step(store: Store, clock_id: str, seen_step: int, now: datetime) -> Escalated | None:
    table = alert_clocks
    with store.transaction() as conn:
        row = conn.execute(sa.select(table).where(table.c.clock_id == clock_id)).mappings().first()
        if row is None or row["step"] != seen_step or row["status"] != WAITING:
            return None  # acknowledged, or another process took this step
        steps = _loads(row["steps"])
        following = seen_step + 1
        exhausted = following >= len(steps)
        nxt = None if exhausted else steps[following]
        within = None if nxt is None else _within(nxt)
        taken = {
            "step": following,
            "desk": None if nxt is None else nxt["desk"],
            "escalated": True,
            "at": now.isoformat(),
        }
        moved = conn.execute(
            table.update()
            .where(table.c.clock_id == clock_id, table.c.step == seen_step)
            .where(table.c.status == WAITING)
            .values(
                step=following,
                status=EXHAUSTED if exhausted else WAITING,
                deadline=None if within is None else now + within,
                history=[*_loads(row["history"]), taken],
            )
        )
        if moved.rowcount != 1:
            return None
        append(
            conn,
            [
                AuditEntry(
                    action=Action.ESCALATION,
                    actor=GATEWAY,
                    recipient=None if nxt is None else nxt["party"],
                    exchange_id=row["exchange_id"],
                    details={
                        "copy_for": row["recipient"],
                        "deadline_passed": as_utc(row["deadline"]).isoformat(),
                        "from_desk": steps[seen_step]["desk"],
                        "step": following,
                        "to_desk": None if nxt is None else nxt["desk"],
                        "exhausted": exhausted,
                    },
                )
            ],
        )
    return Escalated(
        clock_id,
        row["exchange_id"],
        row["recipient"],
        following,
        None if nxt is None else nxt["desk"],
        None if nxt is None else nxt["party"],
        exhausted,
    )


def claim_untold(store: Store, limit: int = 100) -> list[Escalated]:
    """The waiting clocks whose current desk has not been told yet (a new clock's
    first desk, or the desk an escalation reached), each claimed by setting
    ``told_step`` with a compare-and-set: one process tells each desk once."""
    table = alert_clocks
    untold = sa.or_(table.c.told_step.is_(None), table.c.told_step < table.c.step)
    with store.engine.connect() as conn:
        rows = (
            conn.execute(sa.select(table).where(table.c.status == WAITING, untold).limit(limit))
            .mappings()
            .all()
        )
    claimed = []
    for row in rows:
        with store.transaction() as conn:
            won = conn.execute(
                table.update()
                .where(table.c.clock_id == row["clock_id"], table.c.step == row["step"])
                .where(untold)
                .values(told_step=row["step"])
            )
        if won.rowcount != 1:
            continue
        steps = _loads(row["steps"])
        step = steps[row["step"]]
        claimed.append(
            Escalated(
                row["clock_id"],
                row["exchange_id"],
                row["recipient"],
                row["step"],
                step["desk"],
                step["party"],
                exhausted=False,
            )
        )
    return claimed


def trail(conn: Connection, exchange_id: str) -> list[dict[str, Any]]:
    """What the sender sees: each copy that must be acknowledged, and what happened."""
    table = alert_clocks
    rows = conn.execute(
        sa.select(table).where(table.c.exchange_id == exchange_id).order_by(table.c.recipient)
    ).mappings()
    out = []
    for row in rows:
        steps = _loads(row["steps"])
        out.append(
            {
                "recipient": row["recipient"],
                "status": row["status"],
                "step": row["step"],
                "desk": steps[row["step"]]["desk"] if row["step"] < len(steps) else None,
                "deadline": _iso(row["deadline"]),
                "acknowledged_at": _iso(row["acknowledged_at"]),
                "acknowledged_by": row["acknowledged_by"],
                "history": _loads(row["history"]),
            }
        )
    return out


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else as_utc(moment).isoformat()


def _loads(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


__all__ = [
    "ACKNOWLEDGED",
    "EXHAUSTED",
    "SUPERSEDED",
    "WAITING",
    "WITHDRAWN",
    "Acknowledgement",
    "Escalated",
    "NoClock",
    "Step",
    "acknowledge",
    "clock_row",
    "escalate_due",
    "stop_clocks",
    "trail",
]
