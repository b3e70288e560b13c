"""Who an audit entry is about, and what ties it to a trace and a payload.

DPA 2018 s62 asks each entry to say, as far as possible, whose data moved. The
trail never holds an identifier itself: each subject's identifiers are kept as
*audit pseudonyms*, an HMAC under a key derived from the gateway's
pseudonymisation key for the audit trail alone. One derivation for every
entry, whichever recipient or flow, so an auditor who is given an NHS number,
PNC ID or CRN computes its pseudonym and finds every entry about that person;
the pseudonyms recipients receive (``gateway.policy.transforms``) are keyed
per recipient and never equal these, so neither can be joined to the other.

Also here: the payload's SHA-256 (which bytes were collected or disclosed,
never the bytes) and the current trace id (so an entry leads to its trace).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from opentelemetry import trace

#: What the audit key is derived for: a different context gives unrelated pseudonyms.
AUDIT_CONTEXT = b"isg-gateway/audit-subject-pseudonym/v1"
PREFIX = "sp-"
#: The identifier systems a subject can be looked up by (``contracts.IdentifierSystem``).
SYSTEMS = ("nhs_number", "pnc_id", "crn", "noms_number", "local")


@lru_cache(maxsize=8)
def audit_key(pseudonym_key: bytes) -> bytes:
    """The audit trail's own key, derived from the gateway's pseudonymisation key."""
    return hmac.new(pseudonym_key, AUDIT_CONTEXT, hashlib.sha256).digest()


def normalise(system: str, value: str, issuer: str | None = None) -> str:
    """The identifier as it is hashed: spaces dropped and letters upper-cased, so
    ``943 476 5919`` and ``9434765919``, ``x123456`` and ``X123456`` are one person;
    a local identifier is scoped by who issued it."""
    text = "".join(value.split()).upper()
    if system == "local":
        return f"local:{(issuer or '').strip().lower()}:{text}"
    return f"{system}:{text}"


def subject_pseudonym(
    pseudonym_key: bytes, system: str, value: str, issuer: str | None = None
) -> str:
    """The audit pseudonym of one identifier (``sp-`` and 32 hex digits)."""
    digest = hmac.digest(
        audit_key(pseudonym_key), normalise(system, value, issuer).encode(), "sha256"
    )
    return PREFIX + digest[:16].hex()


def is_pseudonym(text: str) -> bool:
    return len(text) == len(PREFIX) + 32 and text.startswith(PREFIX) and _hex(text[3:])


def _hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)


def subject_pseudonyms(pseudonym_key: bytes, subjects: Iterable[Any]) -> dict[str, str]:
    """``{pseudonym: role}`` for every identifier of every subject (a model or its JSON
    form); a subject with no identifier cannot be looked up, and has none."""
    out: dict[str, str] = {}
    for subject in subjects:
        if isinstance(subject, dict):
            role = str(subject.get("role") or "")
            identifiers = subject.get("identifiers") or []
        else:
            role = str(getattr(subject, "role", "") or "")
            identifiers = getattr(subject, "identifiers", None) or []
        for identifier in identifiers:
            if isinstance(identifier, dict):
                system, value = identifier.get("system"), identifier.get("value")
                issuer = identifier.get("issuer")
            else:
                system, value = identifier.system, identifier.value
                issuer = identifier.issuer
            if system is None or not value:
                continue
            out[subject_pseudonym(pseudonym_key, str(system), str(value), issuer)] = role
    return dict(sorted(out.items()))


def envelope_pseudonyms(pseudonym_key: bytes, envelope: Any) -> dict[str, str]:
    """``subject_pseudonyms`` of a stored envelope (a record's JSON form)."""
    if not isinstance(envelope, Mapping):
        return {}
    return subject_pseudonyms(pseudonym_key, envelope.get("subjects") or [])


def payload_sha256(text: str | bytes) -> str:
    """``sha256:<hex>`` of a payload's bytes: which bytes moved, never what they say."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    return "sha256:" + hashlib.sha256(data).hexdigest()


def current_trace_id() -> str | None:
    """The current span's trace id in hex, None outside a recorded trace."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def trace_id_of(headers: Mapping[str, Any] | None) -> str | None:
    """The trace id of a W3C ``traceparent`` header (``00-<trace>-<span>-<flags>``)."""
    value = (headers or {}).get("traceparent")
    if not isinstance(value, str):
        return None
    parts = value.split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or not _hex(parts[1]) or set(parts[1]) == {"0"}:
        return None
    return parts[1]


def traced(details: dict[str, Any], trace_id: str | None = None) -> dict[str, Any]:
    """``details`` with the trace id, when there is one."""
    found = trace_id or current_trace_id()
    if found:
        details["trace_id"] = found
    return details


__all__ = [
    "AUDIT_CONTEXT",
    "SYSTEMS",
    "audit_key",
    "current_trace_id",
    "envelope_pseudonyms",
    "is_pseudonym",
    "normalise",
    "payload_sha256",
    "subject_pseudonym",
    "subject_pseudonyms",
    "trace_id_of",
    "traced",
]
