"""Rate limits: per partner system, and per address for callers not yet known.

A client over its limit gets 429 with ``Retry-After`` before any work is done
for it, and an address that keeps failing to authenticate is slowed the same
way before each failure is audited (so a flood cannot fill the audit trail).
Counted by the ``limits`` library's fixed-window strategy in each process's
memory (``rate_limit_storage``): with N API processes a client may reach N
times the limit (docs/operations.md).
"""

from __future__ import annotations

import math
import time

from fastapi import Request
from limits import RateLimitItem, parse
from limits.strategies import FixedWindowRateLimiter

from gateway.api.rate_limit_storage import LazyMemoryStorage
from gateway.errors import TooManyRequests


class RateLimits:
    def __init__(self, per_client: str, per_address: str) -> None:
        self._limiter = FixedWindowRateLimiter(LazyMemoryStorage())
        self.per_client: RateLimitItem = parse(per_client)
        self.per_address: RateLimitItem = parse(per_address)

    def _hit(self, item: RateLimitItem, key: str, who: str) -> None:
        if self._limiter.hit(item, key):
            return
        reset = self._limiter.get_window_stats(item, key).reset_time
        wait = max(1, math.ceil(reset - time.time()))
        raise TooManyRequests(f"{who} is over its limit of {item}; retry later", retry_after=wait)

    def client(self, client_id: str) -> None:
        """Count one request of a partner system; TooManyRequests when over."""
        self._hit(self.per_client, f"client:{client_id}", f"client {client_id}")

    def address(self, request: Request) -> None:
        """Count one request from an address whose caller is not known (yet)."""
        host = request.client.host if request.client else "unknown"
        self._hit(self.per_address, f"address:{host}", "this address")
