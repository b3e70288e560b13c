"""Stage 7, deliver: commit the exchange, decisions, audit entries and outbox rows together.

One transaction, before the 202: either all of it is kept or none of it is.
The relay then publishes the outbox rows; the API does not wait for Kafka.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.engine import Connection

from contracts import Exchange
from gateway.audit import AuditEntry, append
from gateway.delivery.outbox import OutboxMessage, enqueue
from gateway.pipeline.minimise import Disclosure
from gateway.policy import Decision
from gateway.store import Store
from gateway.store.tables import decisions as decisions_table
from gateway.store.tables import exchanges

_INSERT_EXCHANGE = exchanges.insert()
_INSERT_DECISIONS = decisions_table.insert()


def commit(
    store: Store,
    exchange: Exchange,
    fmt: str,
    policy_version: str,
    decisions: list[Decision],
    disclosures: list[Disclosure],
    entries: list[AuditEntry],
    messages: list[OutboxMessage],
    also: Callable[[Connection], None] | None = None,
) -> None:
    """``also`` runs inside the same transaction (e.g. to record the idempotent answer)."""
    disclosed = {d.decision.recipient: d.minimised for d in disclosures}
    with store.transaction() as conn:
        conn.execute(
            _INSERT_EXCHANGE,
            dict(
                exchange_id=str(exchange.exchange_id),
                source_partner=exchange.source_partner,
                format=fmt,
                category=exchange.category,
                purpose=exchange.purpose,
                urgency=exchange.urgency,
                case_reference=exchange.case_reference,
                submitted_at=exchange.submitted_at,
                policy_version=policy_version,
                envelope=exchange.model_dump(mode="json"),
            ),
        )
        if decisions:
            conn.execute(
                _INSERT_DECISIONS,
                [
                    {
                        "exchange_id": str(exchange.exchange_id),
                        "recipient": d.recipient,
                        "effect": d.effect,
                        "record": {
                            **d.as_record(),
                            "disclosed": list(disclosed[d.recipient].disclosed)
                            if d.recipient in disclosed
                            else [],
                        },
                    }
                    for d in decisions
                ],
            )
        enqueue(conn, messages)
        if also is not None:
            also(conn)
        # Last: appending locks the audit chain's head until commit, so every
        # other write of this transaction happens before we take the lock.
        append(conn, entries)
