"""Which hosts are this machine's own: the embedded default listens only there, and a
webhook may use plain http only to them."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str | None) -> bool:
    """``localhost``, or an address in 127.0.0.0/8 or ``::1`` (brackets allowed)."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
