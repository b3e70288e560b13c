"""Keeping an exchange: its row, its outbox copies and its audit entries, all or none.

The deliver stage (``gateway.pipeline.deliver``) builds a ``PendingCommit`` for
each accepted exchange; a ``Committer`` writes them before the 202 is sent.
Two strategies share this interface:

- ``TransactionPerRequest`` (``gateway.store.per_request``): each exchange in
  a transaction of its own, the plain way;
- ``GroupCommitter`` (``gateway.store.group_commit``): concurrent requests
  share one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.engine import Connection

from gateway.audit import AuditEntry
from gateway.errors import ServiceUnavailable
from gateway.store.audit_log import append
from gateway.store.db import Store
from gateway.store.postgres import shared_round_trips
from gateway.store.tables import (
    INSERT_CLOCKS,
    INSERT_EXCHANGES,
    INSERT_OUTBOX,
    INSERT_UNROUTED,
    insert_rows,
)

#: What each exchange of a group raised (None: kept), in the group's order.
Failures = list[BaseException | None]


@dataclass
class PendingCommit:
    """One exchange's rows, serialised already: the transaction only inserts."""

    exchange: dict[str, Any]
    outbox: list[dict[str, Any]]
    entries: list[AuditEntry]
    #: Acknowledgement clocks of the copies that must be acknowledged.
    clocks: list[dict[str, Any]] = field(default_factory=list)
    #: The unrouted queue's item, when a flow could not route the record by place.
    unrouted: list[dict[str, Any]] = field(default_factory=list)


class Committer(Protocol):
    """Writes the exchanges of one submission; each is kept whole or not at all."""

    def write(self, group: Sequence[PendingCommit]) -> Failures:
        """Block until every exchange of ``group`` is committed or has failed."""
        ...

    async def write_async(self, group: Sequence[PendingCommit]) -> Failures:
        """``write`` for the event loop, which must not block on the store."""
        ...

    def stop(self) -> None: ...


def write_group(
    store: Store,
    group: Sequence[PendingCommit],
    *,
    also: Callable[[Connection], None] | None = None,
) -> None:
    """Write several exchanges in one transaction: all of them are kept or none.

    ``also(conn)`` runs inside it first (an idempotent answer)."""
    with store.transaction() as conn:
        if also is not None:
            also(conn)  # first: its SQLAlchemy statements cannot run in the pipeline
        with shared_round_trips(conn):
            insert_rows(conn, INSERT_EXCHANGES, [p.exchange for p in group])
            insert_rows(conn, INSERT_OUTBOX, [row for p in group for row in p.outbox])
            insert_rows(conn, INSERT_CLOCKS, [row for p in group for row in p.clocks])
            insert_rows(conn, INSERT_UNROUTED, [row for p in group for row in p.unrouted])
            # Last: appending locks the audit chain's head until commit, so every
            # other write of this transaction happens before we take the lock.
            append(conn, [e for p in group for e in p.entries])


def write_each(store: Store, group: Sequence[PendingCommit]) -> Failures:
    """Write each exchange in a transaction of its own; return what each raised."""
    failures: Failures = []
    for pending in group:
        try:
            write_group(store, [pending])
            failures.append(None)
        except Exception as exc:
            failures.append(exc)
    return failures


def write_or_isolate(store: Store, group: Sequence[PendingCommit]) -> Failures:
    """Write ``group`` in one transaction; if that fails, each member on its own, so
    one bad exchange fails alone. A store that cannot be reached fails every member
    at once: tried member by member, each would wait out its own connection timeout."""
    try:
        write_group(store, group)
    except ServiceUnavailable as unavailable:
        return [unavailable] * len(group)
    except Exception as exc:
        return [exc] if len(group) == 1 else write_each(store, group)
    return [None] * len(group)
