"""The pipeline's linking hook: a record that shows one person's identifiers together
is a *combination* (DPA 2018 s62(1)(e)), audited in the transaction that keeps it.

The entry names the record, each subject's ref and role and the kinds of
identifier seen together, never their values or keyed hashes; the custodian's
index (``gateway.linking.index``) holds the hashes.
"""

from __future__ import annotations

from typing import Any

from gateway.audit import Action, AuditEntry
from gateway.linking.keys import case_kind, sightings

JUSTIFICATION = (
    "identifiers of one person seen together in one record, linked by the data "
    "custodian's keyed pseudonym so outcomes can be evaluated across agencies"
)


def combination_entries(
    record: dict[str, Any], actor: str, key: bytes, recorded_at: str | None = None
) -> list[AuditEntry]:
    """One ``combination`` entry when a subject of ``record`` links identifiers; none
    otherwise (and none without a linking key: linking is off)."""
    if not key:
        return []
    linked = [s for s in sightings(record, key) if s.links]
    if not linked:
        return []
    details: dict[str, Any] = {
        "operation": "link",
        "justification": JUSTIFICATION,
        "subjects": [
            {"ref": s.subject_ref, "role": s.role, "identifiers": sorted({k.kind for k in s.keys})}
            for s in linked
        ],
    }
    if record.get("case_reference"):
        details["case"] = case_kind(record)
    extra = {"recorded_at": recorded_at} if recorded_at else {}
    return [
        AuditEntry(
            action=Action.COMBINATION,
            actor=actor,
            exchange_id=str(record["exchange_id"]),
            details=details,
            **extra,
        )
    ]
