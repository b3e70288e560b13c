"""Counters for the ``limits`` library's fixed-window strategy, kept in this process's
memory and expired when read, because the library's own memory storage starts a
timer thread every 10 ms while requests come in (docs/benchmarks.md)."""

from __future__ import annotations

import threading
import time

from limits.storage import Storage


class LazyMemoryStorage(Storage):
    """Window counters as ``{key: (count, expires at)}``; an expired window reads as
    empty and is replaced by the next hit. Windows of callers never seen again are
    swept when the table has grown past ``sweep_above`` keys."""

    STORAGE_SCHEME = ["isg-lazy-memory"]

    def __init__(self, uri: str | None = None, sweep_above: int = 10_000) -> None:
        self._windows: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()
        self._sweep_above = sweep_above
        super().__init__(uri)

    @property
    def base_exceptions(self) -> type[Exception]:
        return ValueError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self._lock:
            count, expires = self._windows.get(key, (0, 0.0))
            if expires <= now:
                count, expires = 0, now + expiry
                if len(self._windows) > self._sweep_above:
                    self._sweep(now)
            count += amount
            self._windows[key] = (count, expires)
            return count

    def get(self, key: str) -> int:
        count, expires = self._windows.get(key, (0, 0.0))
        return count if expires > time.time() else 0

    def get_expiry(self, key: str) -> float:
        _, expires = self._windows.get(key, (0, 0.0))
        return max(expires, time.time())

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        with self._lock:
            cleared = len(self._windows)
            self._windows.clear()
        return cleared

    def clear(self, key: str) -> None:
        with self._lock:
            self._windows.pop(key, None)

    def _sweep(self, now: float) -> None:
        self._windows = {k: v for k, v in self._windows.items() if v[1] > now}
