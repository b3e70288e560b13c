"""Stage 5, audit: the s62 entries for this exchange (written with it, in one transaction)."""

from __future__ import annotations

from contracts import Exchange
from gateway.audit import Action, AuditEntry
from gateway.pipeline.minimise import Disclosure
from gateway.policy import Decision


def audit_entries(
    exchange: Exchange, fmt: str, decisions: list[Decision], disclosures: list[Disclosure]
) -> list[AuditEntry]:
    exchange_id = str(exchange.exchange_id)
    by_recipient = {d.decision.recipient: d for d in disclosures}
    entries = [
        AuditEntry(
            action=Action.COLLECTION,
            actor=exchange.source_partner,
            exchange_id=exchange_id,
            details={
                "format": fmt,
                "category": exchange.category,
                "purpose": exchange.purpose,
                "urgency": exchange.urgency,
                "subjects": len(exchange.subjects),
                "justification": "received from a party to the agreement for a named purpose",
            },
        )
    ]
    for decision in decisions:
        details = decision.as_record()
        disclosure = by_recipient.get(decision.recipient)
        if disclosure is not None:
            details["disclosed_fields"] = list(disclosure.minimised.disclosed)
            details["removed_fields"] = list(disclosure.minimised.removed)
        entries.append(
            AuditEntry(
                action=Action.DISCLOSURE if decision.permitted else Action.REFUSAL,
                actor=exchange.source_partner,
                recipient=decision.recipient,
                exchange_id=exchange_id,
                details=details,
            )
        )
    return entries
