"""RFC 8785 (JSON Canonicalization Scheme) bytes for audit entries.

``canonical`` is the definition: the ``rfc8785`` package, which costs some
30 µs for a typical entry. ``canonical_fast`` gives the same bytes in under a
microsecond by letting orjson write values whose JCS form is orjson's own
sorted, compact output, and hands everything else to ``canonical``:

- no floats (JCS writes numbers as ECMAScript does; orjson's shortest
  round-trip form differs for some, e.g. ``1e-07``);
- integers within ±(2**53 - 1) (beyond, JCS has no exact form);
- object keys strings without characters beyond U+FFFF (JCS sorts keys by
  UTF-16 code units, orjson by code points; the orders differ only there);
- strings escaped alike: both escape ``"``, ``\\`` and control characters the
  same way and leave every other character as UTF-8 (a lone surrogate,
  which neither can encode, is written as its escape, ``representable``).

Values JCS cannot represent at all (integers over 2**53, keys that are not
strings, NaN) are made representable first by ``representable``: such an
integer becomes its decimal string, such a key its ``str``, so an entry is
always written, and what is hashed is exactly what is stored.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
import rfc8785

_SAFE_INT = 2**53 - 1


def canonical(value: Any) -> bytes:
    """The RFC 8785 bytes of ``value`` (made representable first)."""
    return rfc8785.dumps(representable(value))


def canonical_fast(value: Any) -> bytes:
    """``canonical(value)``, by orjson when that gives the same bytes."""
    if _plain(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:  # a lone surrogate
            pass
    return canonical(value)


def _plain(value: Any) -> bool:
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return True
    if kind is int:
        return bool(-_SAFE_INT <= value <= _SAFE_INT)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or (not key.isascii() and max(key) > "\uffff"):
                return False
            if not _plain(item):
                return False
        return True
    if kind is list or kind is tuple:
        return all(_plain(item) for item in value)
    return False


def representable(value: Any) -> Any:
    """``value`` with what JCS cannot write replaced: integers beyond 2**53 and
    non-finite floats by their text, a lone surrogate by its escape, non-string
    keys by their ``str``, tuples by lists; a datetime, UUID or dataclass as orjson
    writes it (as the details column always took them). Others: TypeError."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: kept visible, as its escape
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if isinstance(value, int):
        return value if -_SAFE_INT <= value <= _SAFE_INT else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, str) else k: representable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [representable(v) for v in value]
    try:  # what orjson writes for it (a datetime, a UUID, an enum, a dataclass), as before
        return representable(orjson.loads(orjson.dumps(value)))
    except (orjson.JSONEncodeError, TypeError):
        raise TypeError(f"an audit entry cannot hold a {type(value).__name__}") from None
