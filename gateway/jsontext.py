"""JSON text for rows and messages, written by orjson.

The stages serialise every record several times (the stored envelope, the
decision records, each recipient's message); with the standard library that
was a third of the CPU an exchange costs. Output is compact UTF-8. Values
orjson refuses (integers over 64 bits, non-string keys) fall back to ``json``.

Not for the audit chain's hashed text: that is defined by ``json.dumps``
(see ``gateway.audit.chain``), and orjson writes some floats differently.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any, *, sort_keys: bool = False) -> str:
    """Compact JSON text of ``value``; keys sorted when asked (stable bodies)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else 0).decode()
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False)


def dumps_bytes(value: Any) -> bytes:
    """``dumps`` as UTF-8 bytes, for HTTP bodies."""
    try:
        return orjson.dumps(value)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
