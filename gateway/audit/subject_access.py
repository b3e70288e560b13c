"""The subject access report: every disclosure about one person, across all partners.

Built from the audit trail alone (who received what, when, under which
purpose and lawful basis, which fields by path), so it answers for copies
whose records retention has since erased. Each disclosure is marked with the
exemptions the law may allow, for the data protection officer to decide:
the report flags candidates and never withholds anything itself.

- Law-enforcement processing (DPA 2018 Part 3: a police, probation or MAPPA
  sender, or a Part 3 lawful basis): s45(4) lets the controller restrict the
  right of access where necessary and proportionate to avoid obstructing an
  inquiry or prejudicing the prevention, detection, investigation or
  prosecution of offences (s45(4)(a)-(b)), or to protect the rights and
  freedoms of others (s45(4)(e)).
- Other processing (UK GDPR Art 15): health data may be withheld where
  disclosure would be likely to cause serious harm to the physical or mental
  health of the subject or another person (DPA 2018 Sch 3 Part 2 para 5, the
  serious harm test, after consulting the appropriate health professional);
  information identifying another person (Sch 2 Part 3 paras 16-17); data
  processed to prevent or detect crime where access would be likely to
  prejudice it (Sch 2 Part 1 para 2).

Viewing a report is itself audited: a *combination* entry (records about one
person joined across partners) and a *consultation* entry (who viewed it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.audit.chain import Action, AuditEntry
from gateway.audit.query import AuditQuery

#: Categories whose records are about offending: an access could prejudice an
#: investigation or prosecution.
OFFENDING = frozenset(
    {"crime_record", "custody_event", "disposal", "civil_order", "offender_management"}
)
HEALTH = frozenset({"health_information"})
LAW_ENFORCEMENT_TAG = "law-enforcement"
LAW_ENFORCEMENT_KINDS = frozenset({"police", "probation-spoc", "mappa"})
FOR_THE_DPO = "for the DPO to decide"


@dataclass(frozen=True)
class PartyInfo:
    name: str
    kind: str = ""
    tags: tuple[str, ...] = ()

    @property
    def law_enforcement(self) -> bool:
        return LAW_ENFORCEMENT_TAG in self.tags or self.kind in LAW_ENFORCEMENT_KINDS


def _candidate(provision: str, regime: str, ground: str, why: str) -> dict[str, str]:
    return {
        "provision": provision,
        "regime": regime,
        "ground": ground,
        "why_flagged": why,
        "decision": FOR_THE_DPO,
    }


def exemptions(
    disclosure: Mapping[str, Any], sender: PartyInfo | None, others_named: bool
) -> list[dict[str, str]]:
    """The exemptions a DPO should consider before releasing ``disclosure``."""
    basis = str(disclosure.get("lawful_basis") or "")
    category = str(disclosure.get("category") or "")
    paths = [str(p) for p in disclosure.get("paths_disclosed") or []]
    health = category in HEALTH or any(p.startswith("payload.health") for p in paths)
    part3 = (sender is not None and sender.law_enforcement) or "part3" in basis.replace("-", "")
    out = []
    if part3:
        regime = "DPA 2018 Part 3 (law enforcement)"
        if category in OFFENDING or category == "urgent_alert" or category == "referral":
            out.append(
                _candidate(
                    "DPA 2018 s45(4)(a)-(b)",
                    regime,
                    "avoid obstructing an inquiry, or prejudicing the prevention, detection, "
                    "investigation or prosecution of offences",
                    f"a {category.replace('_', ' ')} shared by a law-enforcement body",
                )
            )
        if others_named:
            out.append(
                _candidate(
                    "DPA 2018 s45(4)(e)",
                    regime,
                    "protect the rights and freedoms of others",
                    "the record names other people (a victim, witness or associate)",
                )
            )
    else:
        regime = "UK GDPR Art 15 with DPA 2018 Schedules 2 and 3"
        if category in OFFENDING or "crime" in str(disclosure.get("purpose") or ""):
            out.append(
                _candidate(
                    "DPA 2018 Sch 2 Part 1 para 2",
                    regime,
                    "prevention or detection of crime, where access would be likely to "
                    "prejudice it",
                    "shared for a purpose of preventing or detecting crime",
                )
            )
        if others_named:
            out.append(
                _candidate(
                    "DPA 2018 Sch 2 Part 3 paras 16-17",
                    regime,
                    "information identifying another individual",
                    "the record names other people (a victim, witness or associate)",
                )
            )
    if health:
        out.append(
            _candidate(
                "DPA 2018 Sch 3 Part 2 para 5",
                "UK GDPR Art 15 with DPA 2018 Schedule 3",
                "serious harm to the physical or mental health of the subject or another "
                "person (the serious harm test; consult the appropriate health professional)",
                "health information was disclosed",
            )
        )
    return out


def _when(entries: Sequence[Mapping[str, Any]], action: str, recipient: str) -> str | None:
    for entry in entries:
        if entry["action"] == action and entry["recipient"] == recipient:
            return str(entry["recorded_at"])
    return None


def report(
    query: AuditQuery,
    pseudonym: str,
    parties: Mapping[str, PartyInfo],
    *,
    looked_up_by: str | None = None,
) -> dict[str, Any]:
    """Every disclosure about the subject ``pseudonym``, oldest first, each with its
    exemption candidates; also every refusal to share about them (nothing crossed)."""
    about = query.subject_exchanges(pseudonym)
    disclosures: list[dict[str, Any]] = []
    refusals: list[dict[str, Any]] = []
    partners: set[str] = set()
    for exchange_id, role in about.items():
        entries = query.exchange_entries(exchange_id)
        collection = next((e for e in entries if e["action"] == Action.COLLECTION), None)
        if collection is None:
            continue
        received = collection["details"]
        sender = collection["actor"]
        # Other people in the record: counted, since one without an identifier has no
        # pseudonym (and one person with two identifiers has two).
        named = received.get("subject_pseudonyms")
        count = received.get("subjects")
        others_named = (
            int(count) > 1
            if isinstance(count, int)
            else isinstance(named, Mapping) and any(p != pseudonym for p in named)
        )
        withdrawn = next(
            (e["recorded_at"] for e in entries if e["action"] == Action.WITHDRAWAL), None
        )
        partners.add(sender)
        for entry in entries:
            details = entry["details"]
            if entry["action"] == Action.REFUSAL:
                for refused in details.get("refused") or []:
                    refusals.append(
                        {
                            "exchange_id": exchange_id,
                            "decided_at": entry["recorded_at"],
                            "sender": sender,
                            "recipient": refused.get("recipient"),
                            "rules": refused.get("rules") or [],
                            "reason": refused.get("reason"),
                        }
                    )
                continue
            if entry["action"] != Action.DISCLOSURE:
                continue
            recipient = str(entry["recipient"])
            partners.add(recipient)
            disclosure = {
                "exchange_id": exchange_id,
                "disclosed_at": entry["recorded_at"],
                "sender": sender,
                "sender_name": parties.get(sender, PartyInfo(sender)).name,
                "recipient": recipient,
                "recipient_name": parties.get(recipient, PartyInfo(recipient)).name,
                "subject_role": role,
                "category": received.get("category"),
                "urgency": received.get("urgency"),
                "purpose": details.get("purpose"),
                "lawful_basis": details.get("lawful_basis"),
                "special_category_condition": details.get("special_category_condition"),
                "justification": details.get("justification"),
                "rules": details.get("rules") or [],
                "policy_version": details.get("policy_version"),
                "paths_disclosed": details.get("disclosed") or [],
                "paths_removed": details.get("removed") or [],
                "payload_sha256": details.get("payload_sha256"),
                "delivered_at": _when(entries, Action.TRANSMISSION, recipient),
                "acknowledged_at": _when(entries, Action.ACKNOWLEDGEMENT, recipient),
                "withdrawn_at": withdrawn,
            }
            disclosure["exemptions"] = exemptions(disclosure, parties.get(sender), others_named)
            disclosures.append(disclosure)
    return {
        "subject": pseudonym,
        "looked_up_by": looked_up_by,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "exchanges": len(about),
        "partners": sorted(partners),
        "disclosures": disclosures,
        "refusals": refusals,
        "exemptions_note": (
            "Exemptions are marked as candidates only: the data protection officer decides "
            "whether each applies, and records why, before anything is withheld."
        ),
    }


def report_entries(
    report_: Mapping[str, Any], actor: str, via: str, trace_id: str | None = None
) -> list[AuditEntry]:
    """The s62 entries for compiling and viewing a report: a *combination* (records
    about one person joined across partners) and a *consultation* (who viewed it)."""
    about: dict[str, Any] = {
        "subject_pseudonyms": {report_["subject"]: ""},
        "justification": "subject access request (UK GDPR Art 15; DPA 2018 s45)",
        "purpose": "subject-access",
    }
    if trace_id:
        about["trace_id"] = trace_id
    exchanges = sorted({d["exchange_id"] for d in report_["disclosures"]})
    return [
        AuditEntry(
            action=Action.COMBINATION,
            actor=actor,
            details={
                **about,
                "partners": list(report_["partners"]),
                "exchanges": exchanges,
                "disclosures": len(report_["disclosures"]),
            },
        ),
        AuditEntry(
            action=Action.CONSULTATION,
            actor=actor,
            details={**about, "via": via, "report": "subject-access"},
        ),
    ]


__all__ = ["FOR_THE_DPO", "PartyInfo", "exemptions", "report", "report_entries"]
