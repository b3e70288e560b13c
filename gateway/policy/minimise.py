"""Minimisation: keep only the fields a flow allows, by declared path.

Works on the JSON form of a canonical record. An allow-list entry keeps the
named field and everything beneath it. The result lists which leaf paths were
disclosed and which were removed, never their values, so the audit entry can
say exactly what crossed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Envelope fields every recipient gets: they say what the message is, not who.
ENVELOPE_PATHS = (
    "contract_version",
    "exchange_id",
    "source_partner",
    "submitted_at",
    "category",
    "purpose",
    "urgency",
)


@dataclass(frozen=True)
class Minimised:
    record: dict[str, Any]
    disclosed: tuple[str, ...]
    removed: tuple[str, ...]


def _allowed(path: str, allow: tuple[str, ...]) -> bool:
    return any(path == a or path.startswith(a + ".") or path.startswith(a + "[") for a in allow)


def _walk(value: Any, path: str, allow: tuple[str, ...], disclosed: set, removed: set) -> Any:
    """Return the allowed part of ``value`` or ``_DROP``."""
    if isinstance(value, dict):
        kept = {}
        for key, child in value.items():
            child_path = f"{path}.{key}" if path else key
            result = _walk(child, child_path, allow, disclosed, removed)
            if result is not _DROP:
                kept[key] = result
        return kept if kept else _DROP
    if isinstance(value, list):
        item_path = path + "[]"
        kept_items = []
        for item in value:
            result = _walk(item, item_path, allow, disclosed, removed)
            if result is not _DROP:
                kept_items.append(result)
        if not value and _allowed(item_path, allow):
            return []
        return kept_items if kept_items else _DROP
    if value is None:
        return _DROP
    if _allowed(path, allow):
        disclosed.add(path)
        return value
    removed.add(path)
    return _DROP


_DROP = object()


def minimise(record: dict[str, Any], allow: tuple[str, ...] | list[str]) -> Minimised:
    allow_all = tuple(allow) + ENVELOPE_PATHS
    disclosed: set[str] = set()
    removed: set[str] = set()
    kept = _walk(record, "", allow_all, disclosed, removed)
    return Minimised(
        record=kept if isinstance(kept, dict) else {},
        disclosed=tuple(sorted(disclosed)),
        removed=tuple(sorted(removed)),
    )


def minimise_for(decision: Any, record: dict[str, Any], pseudonym_key: bytes = b"") -> Minimised:
    """Minimise ``record`` as a permit ``decision`` says (the pipeline's entry point).

    ``pseudonym_key`` keys per-recipient pseudonyms; it comes from settings,
    never from the policy files.
    """
    return minimise(record, decision.allowed_fields)
