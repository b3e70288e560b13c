"""Stage 5, audit: the s62 entries for this exchange (written with it, in one transaction).

One *collection* entry, one *disclosure* entry per permitted recipient (with
the paths disclosed and removed, never values), and one *refusal* entry
listing every refused recipient with the rules and reason that refused it.
Each also carries what an auditor looks an entry up by: the subjects' audit
pseudonyms (``gateway.audit.subjects``), the SHA-256 of the payload collected
or disclosed, the policy bundle's hash (``policy_version``), the partner system
that sent it (``client``) and the trace id.
The refusal entry states the purpose and policy version once and leaves out
empty fields: most parties are refused most records, and repeating them made
it the largest entry an exchange wrote.
"""

from __future__ import annotations

from typing import Any

from contracts import Exchange
from gateway import jsontext
from gateway.audit import Action, AuditEntry
from gateway.audit.chain import now_text
from gateway.audit.subjects import current_trace_id, payload_sha256, subject_pseudonyms
from gateway.pipeline.minimise import Disclosure
from gateway.policy import Decision

#: The same for every refused recipient of an exchange (``effect`` is always deny).
_STATED_ONCE_FOR_REFUSALS = frozenset({"effect", "purpose", "policy_version", "agreement_version"})


def audit_entries(
    exchange: Exchange,
    fmt: str,
    decisions: list[Decision],
    disclosures: list[Disclosure],
    client_id: str | None = None,
    record: dict[str, Any] | None = None,
    pseudonym_key: bytes = b"",
) -> list[AuditEntry]:
    """The exchange's entries; the collection names the partner's system that sent it
    (``client``) where a token said which (DPA 2018 s62(3)). ``record`` is the JSON
    form kept as the envelope (its hash is recorded); ``pseudonym_key`` keys the
    subjects' audit pseudonyms."""
    exchange_id = str(exchange.exchange_id)
    recorded_at = now_text()  # the entries of one exchange are recorded together
    by_recipient = {d.decision.recipient: d for d in disclosures}
    # What every entry of the exchange says about whom, from where, under which bundle.
    about: dict[str, Any] = {
        "subject_pseudonyms": subject_pseudonyms(pseudonym_key, exchange.subjects),
        **({"client": client_id} if client_id else {}),
    }
    trace_id = current_trace_id()
    if trace_id:
        about["trace_id"] = trace_id
    bundle_hash = decisions[0].policy_version if decisions else None
    entries = [
        AuditEntry(
            action=Action.COLLECTION,
            actor=exchange.source_partner,
            exchange_id=exchange_id,
            recorded_at=recorded_at,
            details={
                "format": fmt,
                "category": exchange.category,
                "purpose": exchange.purpose,
                "purposes": list(exchange.purposes),
                "urgency": exchange.urgency,
                "subjects": len(exchange.subjects),
                "justification": "received from a party to the agreement for a named purpose",
                **({"payload_sha256": payload_sha256(jsontext.dumps(record))} if record else {}),
                **({"policy_version": bundle_hash} if bundle_hash else {}),
                **about,
            },
        )
    ]
    refused = []
    for decision in decisions:
        details = decision.as_record()
        disclosure = by_recipient.get(decision.recipient)
        if disclosure is None:
            refused.append(
                {
                    k: v
                    for k, v in details.items()
                    if v not in (None, "", []) and k not in _STATED_ONCE_FOR_REFUSALS
                }
            )
            continue
        details.update(disclosure.minimised.as_audit())
        details["payload_sha256"] = payload_sha256(jsontext.dumps(disclosure.minimised.record))
        details.update(about)
        entries.append(
            AuditEntry(
                action=Action.DISCLOSURE,
                actor=exchange.source_partner,
                recipient=decision.recipient,
                exchange_id=exchange_id,
                recorded_at=recorded_at,
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
                recorded_at=recorded_at,
                details={
                    # Every declared purpose was tried for every refused recipient.
                    "purposes": list(exchange.purposes),
                    "policy_version": decisions[0].policy_version,
                    "agreement_version": decisions[0].agreement_version,
                    "refused": refused,
                    **about,
                },
            )
        )
    return entries
