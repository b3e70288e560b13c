"""Writing the tamper-evident audit trail (DPA 2018 s62 logging).

Each entry records what s62 asks: the operation (collection, disclosure,
refusal, transmission ...), when, who did it, who received it, and the
justification (purpose, lawful basis, the rules that decided). Field *paths*
disclosed and removed are recorded, never field values.

Entries form a hash chain: ``hash = SHA-256(prev_hash || canonical_json(entry))``
where the entry is every column but ``seq`` and ``hash``. The algorithm is named
in each entry (``hash_alg``) so a later algorithm can take over mid-chain:

- ``sha256`` (the first): ``details`` is hashed as parsed JSON, so a verifier
  had to re-serialise arbitrary nested details exactly as Python's ``json``
  does, floats included;
- ``sha256-text`` (since): ``details`` is hashed as the text stored in the
  column, a JSON string in the canonical entry. Every hashed field is then a
  string or null, which any verifier, in any language, canonicalises the same
  way; the writer may serialise details however it likes (orjson), and a
  change of so much as a space in the stored text shows.

- ``jcs-sha256`` (since issue 18): each entry's canonical form is its RFC 8785
  (JSON Canonicalization Scheme) bytes, stored in the ``canonical`` column,
  and ``hash = SHA-256(prev_hash || canonical)`` with ``prev_hash`` as its 64
  ASCII hex digits. The canonical object holds ``action``, ``actor``,
  ``details`` (an object), ``entry_id``, ``exchange_id``, ``hash_alg``,
  ``recipient`` and ``recorded_at``; the ``details`` column holds the JCS text
  of ``details``, byte for byte the member inside ``canonical``. A verifier
  hashes the stored bytes and never serialises anything: it checks the
  readable columns against ``canonical`` (``gateway.audit.verify``).

The verifier (``gateway.audit.verify``) re-implements every rule independently;
the SQL that appends entries to the chain is ``gateway.store.audit_log``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from contracts.ids import new_id_text
from gateway.audit.jcs import canonical_fast

HASH_ALG = "jcs-sha256"


class Sealer(Protocol):
    def __call__(self, seq: int, entry_hash: str) -> str: ...


GENESIS = "0" * 64
#: The details key of the entry that states the hash of an exchange's decisions column.
DECISIONS_DIGEST = "decisions_sha256"


class Action:
    """s62 operations, plus the gateway's own decision outcomes."""

    COLLECTION = "collection"
    DISCLOSURE = "disclosure"  # a permit: the record will be disclosed
    REFUSAL = "refusal"  # a deny: the recipient gets nothing
    TRANSMISSION = "transmission"  # the disclosed record left the gateway
    UNDELIVERED = "undelivered"  # a permitted disclosure given up on (dead-lettered)
    REDELIVERY = "redelivery"  # an operator put a dead letter back to be delivered
    ERASURE = "erasure"  # rows erased when their retention period ended
    ACCESS_REFUSED = "access-refused"  # a caller without the credentials it needed
    POLICY_CHANGE = "policy-change"  # a changed policy bundle took effect
    ACKNOWLEDGEMENT = "acknowledgement"  # a recipient acknowledged a copy it must
    ESCALATION = "escalation"  # a deadline passed: the next step of the chain is told
    NOTIFICATION = "notification"  # people told an alert waits (no personal data sent)
    ALTERATION = "alteration"  # a record corrected, or routed by hand (s62(1)(b))
    WITHDRAWAL = "withdrawal"  # recipients told to disregard a copy they received
    CONSULTATION = "consultation"  # a person viewed a copy in their inbox (s62 consultation)
    COMBINATION = "combination"  # records about one person joined across partners (s62)


def now_text() -> str:
    """The time an entry is recorded, as stored: ISO 8601, UTC, microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class AuditEntry:
    """One s62 log entry. It is serialised once, when created: what is hashed is
    what was recorded then, and the work happens before the audit lock is taken."""

    action: str
    actor: str
    details: dict[str, Any]
    exchange_id: str | None = None
    recipient: str | None = None
    entry_id: str = field(default_factory=new_id_text)
    recorded_at: str = field(default_factory=now_text)
    #: ``details`` as stored: its RFC 8785 text
    details_json: str = field(init=False, repr=False, compare=False)
    #: The entry's RFC 8785 bytes: what the chain hashes (``jcs-sha256``)
    canonical: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        details = canonical_fast(self.details)
        rest = canonical_fast(
            {
                "action": self.action,
                "actor": self.actor,
                "entry_id": self.entry_id,
                "exchange_id": self.exchange_id,
                "hash_alg": HASH_ALG,
                "recipient": self.recipient,
                "recorded_at": self.recorded_at,
            }
        )
        # JCS sorts members by key, "details" between "actor" and "entry_id", and
        # serialises each value on its own: splice details in there. In ``rest``
        # every quote inside a value is escaped, so this is the member's own text.
        at = rest.index(b',"entry_id":')
        object.__setattr__(self, "canonical", rest[:at] + b',"details":' + details + rest[at:])
        object.__setattr__(self, "details_json", details.decode("utf-8"))

    def digest(self, prev_hash: str) -> str:
        """``SHA-256(prev_hash || canonical)`` in hex (``jcs-sha256``)."""
        return hashlib.sha256(prev_hash.encode("ascii") + self.canonical).hexdigest()

    def with_details(self, **extra: Any) -> AuditEntry:
        """The same entry (id and time) with ``extra`` added to its details."""
        return replace(self, details={**self.details, **extra})


def decisions_digest(decisions_text: str) -> str:
    """The hash an entry states for an exchange's ``decisions`` column: SHA-256 of
    the column's text as stored (UTF-8), in hex."""
    return hashlib.sha256(decisions_text.encode("utf-8")).hexdigest()


def seal_decisions(entries: list[AuditEntry], decisions_text: str) -> list[AuditEntry]:
    """``entries`` with the last one stating the hash of the exchange's decisions column
    as it is about to be written (``DECISIONS_DIGEST``), so editing the column later
    shows: ``gateway audit verify`` compares each exchange's row with the last entry
    that states one."""
    if not entries:
        return entries
    last = entries[-1].with_details(**{DECISIONS_DIGEST: decisions_digest(decisions_text)})
    return [*entries[:-1], last]


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sorted_json(value: dict[str, Any]) -> str:
    """JSON with sorted keys and no spaces: how details are stored (and hashed).

    orjson where it can (faster; for strings and null its text is exactly
    ``canonical_json``'s); what it refuses (keys that are not strings, integers
    over 64 bits, lone surrogates) goes through ``json``."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONEncodeError:
        return canonical_json(value)


def chain_rows(
    entries: list[AuditEntry], seq: int, prev_hash: str, seal: Sealer | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The ``audit_log`` rows for ``entries`` after the head ``(seq, prev_hash)``, and
    the head's new values (``gateway.store.audit_log`` writes both). ``seal(seq, hash)``
    seals each entry (``gateway.audit.signing``); without it entries go unsealed."""
    rows = []
    for entry in entries:
        seq += 1
        digest = entry.digest(prev_hash)
        rows.append(
            {
                "seq": seq,
                "entry_id": entry.entry_id,
                "recorded_at": entry.recorded_at,
                "action": entry.action,
                "actor": entry.actor,
                "recipient": entry.recipient,
                "exchange_id": entry.exchange_id,
                "details": entry.details_json,
                "canonical": entry.canonical,
                "hash_alg": HASH_ALG,
                "prev_hash": prev_hash,
                "hash": digest,
                "seal": seal(seq, digest) if seal is not None else None,
            }
        )
        prev_hash = digest
    return rows, {"new_seq": seq, "new_hash": prev_hash}
