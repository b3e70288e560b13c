"""Stage 5, audit: the s62 entries for this exchange (written with it, in one transaction).

One *collection* entry, one *disclosure* entry per permitted recipient (with
the paths disclosed and removed, never values), and one *refusal* entry
listing every refused recipient with the rule and reason that refused it.
"""

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
    refused = []
    for decision in decisions:
        details = decision.as_record()
        disclosure = by_recipient.get(decision.recipient)
        if disclosure is None:
            refused.append(details)
            continue
        details.update(disclosure.minimised.as_audit())
        entries.append(
            AuditEntry(
                action=Action.DISCLOSURE,
                actor=exchange.source_partner,
                recipient=decision.recipient,
                exchange_id=exchange_id,
                details=details,
            )
        )
    if refused:
        # One entry for every recipient refused: each with its rules and reason.
        entries.append(
            AuditEntry(
                action=Action.REFUSAL,
                actor=exchange.source_partner,
                exchange_id=exchange_id,
                details={"refused": refused},
            )
        )
    return entries
