"""The plain commit strategy: each exchange in a transaction of its own."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from gateway.store.commit import Failures, PendingCommit, write_each
from gateway.store.db import Store


class TransactionPerRequest:
    """Each exchange in its own transaction, written by the requesting thread."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def write(self, group: Sequence[PendingCommit]) -> Failures:
        return write_each(self.store, group)

    async def write_async(self, group: Sequence[PendingCommit]) -> Failures:
        return await asyncio.to_thread(self.write, group)

    def stop(self) -> None:
        pass
