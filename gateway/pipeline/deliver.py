"""Stage 7, deliver: the rows that keep one exchange, ready to commit.

The exchange (with its decisions), its audit entries, its outbox copies and
the acknowledgement clocks of copies that must be acknowledged are committed
together before the 202, by the pipeline's committer
(``gateway.store.commit``); the relay then publishes the outbox rows, so the
API never waits for Kafka.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from contracts import Exchange
from gateway import jsontext
from gateway.audit import AuditEntry
from gateway.audit.chain import seal_decisions
from gateway.delivery.outbox import OutboxMessage, outbox_rows
from gateway.pipeline.minimise import Disclosure
from gateway.policy import Decision
from gateway.store.commit import PendingCommit


def pending_commit(
    exchange: Exchange,
    envelope: dict[str, Any],
    fmt: str,
    policy_version: str,
    decisions: list[Decision],
    disclosures: list[Disclosure],
    entries: list[AuditEntry],
    messages: list[OutboxMessage],
    clocks: list[dict[str, Any]] | None = None,
) -> PendingCommit:
    """The rows to write for one exchange; ``envelope`` is its JSON form (the
    record the stages minimised)."""
    disclosed = {d.decision.recipient: d.minimised for d in disclosures}
    exchange_id = str(exchange.exchange_id)
    decisions_text = jsontext.dumps(
        [
            {
                **d.as_record(),
                "disclosed": list(disclosed[d.recipient].disclosed)
                if d.recipient in disclosed
                else [],
            }
            for d in decisions
        ]
    )
    return PendingCommit(
        exchange=dict(
            exchange_id=exchange_id,
            source_partner=exchange.source_partner,
            format=fmt,
            category=exchange.category,
            purpose=exchange.purpose,
            urgency=exchange.urgency,
            case_reference=exchange.case_reference,
            submitted_at=exchange.submitted_at,
            policy_version=policy_version,
            envelope=jsontext.dumps(envelope),
            decisions=decisions_text,
        ),
        outbox=outbox_rows(messages),
        # The last entry states the decisions column's hash: editing it later shows.
        entries=seal_decisions(entries, decisions_text),
        clocks=clocks or [],
        unrouted=unrouted_rows(exchange_id, decisions),
    )


def unrouted_rows(exchange_id: str, decisions: list[Decision]) -> list[dict[str, Any]]:
    """The unrouted queue's item for an exchange some flow could not route by place
    (none otherwise): the coordinating team routes it by hand (``gateway.api.unrouted``)."""
    unrouted = [d for d in decisions if d.unrouted]
    if not unrouted:
        return []
    return [
        {
            "exchange_id": exchange_id,
            "recipients": jsontext.dumps([d.recipient for d in unrouted]),
            "flow": unrouted[0].rules[1] if len(unrouted[0].rules) > 1 else "",
            "status": "open",
            "created_at": datetime.now(UTC),
        }
    ]
