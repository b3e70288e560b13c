"""Signing webhook requests so a receiver can tell they came from the gateway.

Header ``ISG-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`` over
``"<t>." + body`` with the endpoint's own key. A receiver recomputes the HMAC,
compares in constant time, and rejects timestamps older than a few minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "ISG-Signature"


def sign(body: bytes, key: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(key, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify(body: bytes, header: str, key: bytes, tolerance_seconds: int = 300) -> bool:
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        t = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    if abs(time.time() - t) > tolerance_seconds:
        return False
    expected = hmac.new(key, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given)
