"""One SQLite writer at a time, across the gateway's threads and processes."""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path


class WriterLock:
    """One SQLite writer at a time, across threads and processes, without naps.

    A thread lock queues this process's writers; ``flock`` on a file beside
    the database queues the processes (``serve --workers``, ``gateway
    relay``), and the kernel wakes the next one the moment the lock is free.
    SQLite's own lock stays underneath: a writer that skips this lock (an
    older gateway, the ``sqlite3`` shell) still waits in the busy handler.
    """

    def __init__(self, path: Path | None) -> None:
        self._thread_lock = threading.Lock()
        self._path = path
        self._fd: int | None = None

    def acquire(self, blocking: bool = True) -> bool:
        """Take the lock; with ``blocking=False`` return False at once if it is held."""
        if not self._thread_lock.acquire(blocking):
            return False
        try:
            if self._path is not None:
                # Opened per hold, so no descriptor outlives the transaction.
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self._fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.release()
            return False
        except BaseException:
            self.release()
            raise
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing it releases the flock
            self._fd = None
        self._thread_lock.release()
