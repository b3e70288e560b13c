"""Stage 7, deliver: commit the exchange (with its decisions), audit entries and outbox rows
together.

One transaction, before the 202: either all of it is kept or none of it is.
Under load, concurrent requests share one transaction: written by a commit
thread (``GroupCommitter``; PostgreSQL, and requests served in worker threads)
or, on SQLite, by the event loop itself (``LoopCommitter``). The relay then
publishes the outbox rows; the API does not wait for Kafka.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from contracts import Exchange
from gateway import jsontext
from gateway.audit import AuditEntry, append
from gateway.delivery.outbox import OutboxMessage, enqueue, outbox_rows
from gateway.errors import ServiceUnavailable
from gateway.pipeline.minimise import Disclosure
from gateway.policy import Decision
from gateway.store import Store
from gateway.store.db import WriterBusy
from gateway.store.postgres import shared_round_trips
from gateway.store.tables import exchanges, insert_rows, insert_serialised

_INSERT_EXCHANGE = insert_serialised(exchanges, "envelope", "decisions")


@dataclass
class PendingCommit:
    """One exchange's rows, waiting for its turn in a group transaction.

    Everything is serialised already: the transaction only inserts.
    """

    exchange: dict[str, Any]
    outbox: list[dict[str, Any]]
    entries: list[AuditEntry]
    done: Future[None] = field(default_factory=Future)


def pending_commit(
    exchange: Exchange,
    envelope: dict[str, Any],
    fmt: str,
    policy_version: str,
    decisions: list[Decision],
    disclosures: list[Disclosure],
    entries: list[AuditEntry],
    messages: list[OutboxMessage],
) -> PendingCommit:
    """The rows to write for one exchange; ``envelope`` is its JSON form (the
    record the stages minimised)."""
    disclosed = {d.decision.recipient: d.minimised for d in disclosures}
    exchange_id = str(exchange.exchange_id)
    return PendingCommit(
        exchange=dict(
            exchange_id=exchange_id,
            source_partner=exchange.source_partner,
            format=fmt,
            category=exchange.category,
            purpose=exchange.purpose,
            urgency=exchange.urgency,
            case_reference=exchange.case_reference,
            submitted_at=exchange.submitted_at,
            policy_version=policy_version,
            envelope=jsontext.dumps(envelope),
            decisions=jsontext.dumps(
                [
                    {
                        **d.as_record(),
                        "disclosed": list(disclosed[d.recipient].disclosed)
                        if d.recipient in disclosed
                        else [],
                    }
                    for d in decisions
                ]
            ),
        ),
        outbox=outbox_rows(messages),
        entries=entries,
    )


def write_group(
    store: Store,
    group: list[PendingCommit],
    *,
    wait: bool = True,
    also: Callable[[Connection], None] | None = None,
) -> None:
    """Write several exchanges in one transaction: all of them are kept or none.

    ``also(conn)`` runs inside it (an idempotent answer). ``wait=False`` raises
    WriterBusy rather than wait for another SQLite writer."""
    with store.transaction(wait=wait) as conn:
        if also is not None:
            also(conn)  # first: its SQLAlchemy statements cannot run in the pipeline
        with shared_round_trips(conn):
            insert_rows(conn, _INSERT_EXCHANGE, [p.exchange for p in group])
            enqueue(conn, [row for p in group for row in p.outbox])
            # Last: appending locks the audit chain's head until commit, so every
            # other write of this transaction happens before we take the lock.
            append(conn, [e for p in group for e in p.entries])


def write_each(store: Store, group: list[PendingCommit]) -> list[BaseException | None]:
    """Write each exchange in a transaction of its own; return what each raised.

    How a failed group is retried: one bad exchange then fails alone."""
    failures: list[BaseException | None] = []
    for pending in group:
        try:
            write_group(store, [pending])
            failures.append(None)
        except Exception as exc:
            failures.append(exc)
    return failures


def _write_or_isolate(
    store: Store, group: list[PendingCommit], wait: bool
) -> list[BaseException | None]:
    """Write ``group`` in one transaction; if that fails, each member on its own.
    WriterBusy (``wait=False``) passes through: then nothing was written. A store
    that cannot be reached fails every member at once: tried member by member,
    each would wait out its own connection timeout."""
    try:
        write_group(store, group, wait=wait)
    except WriterBusy:
        raise
    except ServiceUnavailable as unavailable:
        return [unavailable] * len(group)
    except Exception as exc:
        return [exc] if len(group) == 1 else write_each(store, group)
    return [None] * len(group)


class GroupCommitter:
    """Commits the exchanges of concurrent requests together (group commit).

    Each request still gets its 202 only after its own rows are committed; but
    one transaction, one turn at the audit chain's lock and one multi-row
    insert per table serve every request that arrived meanwhile. If a group
    fails, its members are retried one by one, so one bad exchange cannot
    fail its neighbours.

    Requests prepared on the event loop are handed over once per loop turn
    (``enqueue_from_loop``): handed over one by one, the commit thread woke for
    the first and committed it nearly alone while the loop prepared the rest
    (groups of ~6 at 16 requests in flight; a PostgreSQL transaction costs
    ~1.4 ms of the committing process's CPU whatever it holds).
    """

    def __init__(self, store: Store, max_group: int = 64) -> None:
        self.store = store
        self.max_group = max_group
        self._queue: queue.SimpleQueue[list[PendingCommit] | None] = queue.SimpleQueue()
        #: Prepared in the current loop turn, not yet handed to the commit thread.
        self._this_turn: list[PendingCommit] = []
        self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
        self._thread.start()

    def enqueue(self, pending: PendingCommit) -> Future[None]:
        """Queue ``pending`` for the next group; the future settles when it is committed."""
        self._queue.put([pending])
        return pending.done

    def enqueue_from_loop(self, pending: PendingCommit) -> asyncio.Future[None]:
        """``enqueue`` for the event loop's thread: the requests read in one loop turn
        reach the commit thread together, when the turn ends."""
        if not self._this_turn:
            asyncio.get_running_loop().call_soon(self._hand_over)
        self._this_turn.append(pending)
        return asyncio.wrap_future(pending.done)

    def _hand_over(self) -> None:
        turn, self._this_turn = self._this_turn, []
        self._queue.put(turn)

    def commit(self, pending: PendingCommit) -> None:
        """Block until ``pending`` is committed; raise what its commit raised."""
        self.enqueue(pending).result()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = first
            while len(group) < self.max_group:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._commit_all(group)
                    return
                group.extend(more)
            self._commit_all(group)

    def _commit_all(self, pending: list[PendingCommit]) -> None:
        for start in range(0, len(pending), self.max_group):
            self._commit(pending[start : start + self.max_group])

    def _commit(self, group: list[PendingCommit]) -> None:
        for pending, failure in zip(
            group, _write_or_isolate(self.store, group, wait=True), strict=True
        ):
            if failure is None:
                pending.done.set_result(None)
            else:
                pending.done.set_exception(failure)


class LoopCommitter:
    """Group commit on the event loop's own thread, for SQLite.

    SQLite releases the GIL around every statement, so a commit thread and the
    event loop handed the GIL back and forth a dozen times a group, and an
    exchange cost ~1.5 times its serial CPU. Here the loop writes the group
    itself, once the requests read in the same turn have queued theirs. The
    write lock is only tried: while another process holds it, the loop goes on
    serving and tries again shortly, and the group grows meanwhile. A request
    that has waited ``give_up_seconds`` for a store held all that time (a writer
    that hangs, a program holding SQLite's lock) fails with ServiceUnavailable
    rather than wait forever; the others keep their turn.
    """

    def __init__(
        self,
        store: Store,
        max_group: int = 64,
        retry_seconds: float = 0.002,
        give_up_seconds: float = 10.0,
    ) -> None:
        self.store = store
        self.max_group = max_group
        self.retry_seconds = retry_seconds
        self.give_up_seconds = give_up_seconds
        #: (rows, the request's future, loop time it was queued)
        self._waiting: list[tuple[PendingCommit, asyncio.Future[None], float]] = []
        self._scheduled = False

    def enqueue(self, pending: PendingCommit) -> asyncio.Future[None]:
        """Queue ``pending`` for the loop's next group; the future settles when it is
        committed. Call from the event loop's thread."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._waiting.append((pending, done, loop.time()))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush, loop)
        return done

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        group, self._waiting = self._waiting[: self.max_group], self._waiting[self.max_group :]
        try:
            # Retrying a failed group member by member waits for the lock (rare),
            # so that may hold up the loop briefly.
            failures = _write_or_isolate(self.store, [p for p, _, _ in group], wait=False)
        except WriterBusy as busy:
            self._still_busy(loop, group, busy)
            return
        for (_, done, _), failure in zip(group, failures, strict=True):
            _settle(done, failure)
        if self._waiting:
            loop.call_soon(self._flush, loop)
        else:
            self._scheduled = False

    def _still_busy(
        self,
        loop: asyncio.AbstractEventLoop,
        group: list[tuple[PendingCommit, asyncio.Future[None], float]],
        busy: WriterBusy,
    ) -> None:
        """Nothing was written: fail the requests that have waited too long, put the
        rest first in line, and try again shortly."""
        now = loop.time()
        waiting = []
        for pending, done, queued in group:
            if now - queued < self.give_up_seconds:
                waiting.append((pending, done, queued))
            else:
                unavailable = f"the store stayed busy for {self.give_up_seconds:g} s: {busy}"
                _settle(done, ServiceUnavailable(unavailable))
        self._waiting[:0] = waiting
        if self._waiting:
            loop.call_later(self.retry_seconds, self._flush, loop)
        else:
            self._scheduled = False


def _settle(done: asyncio.Future[None], failure: BaseException | None) -> None:
    if done.cancelled():  # the client went away; the commit stands
        return
    if failure is None:
        done.set_result(None)
    else:
        done.set_exception(failure)
