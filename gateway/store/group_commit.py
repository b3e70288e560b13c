"""Group commit: the exchanges of concurrent requests share one transaction.

A commit costs the store about the same whatever it holds (a turn at the
write lock and the audit chain's head, a flush), so a thread that commits
every exchange queued meanwhile in one transaction serves many requests for
the price of one. Each request still gets its answer only after its own rows
are committed. If a group fails, its members are retried one by one, so one
bad exchange cannot fail its neighbours.

Urgent exchanges (an outbox row with a priority) go ahead of ordinary ones:
a queued batch of a hundred records is written a group at a time, and an
urgent record queued behind it joins the very next group. Exchanges of the
same kind keep their order.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future

from gateway.store.commit import Failures, PendingCommit, write_or_isolate
from gateway.store.db import Store

#: (the exchange's rows, settled when they are committed)
_Queued = tuple[PendingCommit, "Future[None]"]


class GroupCommitter:
    """A commit thread that writes whatever has queued since its last transaction."""

    def __init__(self, store: Store, max_group: int = 64) -> None:
        self.store = store
        self.max_group = max_group
        self._queue: queue.SimpleQueue[list[_Queued] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
        self._thread.start()

    # -- the Committer interface --------------------------------------------
    def write(self, group: Sequence[PendingCommit]) -> Failures:
        futures = [self.enqueue(p) for p in group]
        return [f.exception() for f in futures]

    async def write_async(self, group: Sequence[PendingCommit]) -> Failures:
        futures = [asyncio.wrap_future(self.enqueue(p)) for p in group]
        if futures:
            await asyncio.wait(futures)
        return [f.exception() for f in futures]

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    # -- one exchange --------------------------------------------------------
    def enqueue(self, pending: PendingCommit) -> Future[None]:
        """Queue ``pending`` for the next group; the future settles when it is committed."""
        done: Future[None] = Future()
        self._queue.put([(pending, done)])
        return done

    def commit(self, pending: PendingCommit) -> None:
        """Block until ``pending`` is committed; raise what its commit raised."""
        self.enqueue(pending).result()

    # -- the commit thread ---------------------------------------------------
    def _run(self) -> None:
        urgent: deque[_Queued] = deque()
        ordinary: deque[_Queued] = deque()
        stopping = False
        while True:
            if not urgent and not ordinary:
                if stopping:
                    return
                first = self._queue.get()
                if first is None:
                    return
                _sort(first, urgent, ordinary)
            while not stopping:  # take in whatever queued meanwhile
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                else:
                    _sort(more, urgent, ordinary)
            group: list[_Queued] = []
            for lane in (urgent, ordinary):  # urgent exchanges first
                while lane and len(group) < self.max_group:
                    group.append(lane.popleft())
            self._commit(group)

    def _commit(self, queued: list[_Queued]) -> None:
        for start in range(0, len(queued), self.max_group):
            group = queued[start : start + self.max_group]
            failures = write_or_isolate(self.store, [pending for pending, _ in group])
            for (_, done), failure in zip(group, failures, strict=True):
                if failure is None:
                    done.set_result(None)
                else:
                    done.set_exception(failure)


def is_urgent(pending: PendingCommit) -> bool:
    """An exchange with an urgent or immediate copy (its outbox rows have a priority)."""
    return any(row.get("priority") for row in pending.outbox)


def _sort(queued: list[_Queued], urgent: deque[_Queued], ordinary: deque[_Queued]) -> None:
    for item in queued:
        (urgent if is_urgent(item[0]) else ordinary).append(item)
