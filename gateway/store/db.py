"""Connecting to the store (SQLite or PostgreSQL) and running migrations."""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import InterfaceError as SAInterfaceError

from contracts import Exchange
from gateway.errors import ServiceUnavailable
from gateway.store import tables

_ALEMBIC_INI = Path(__file__).with_name("alembic.ini")
#: How long a waiting SQLite writer sleeps in SQLite's busy handler before giving up.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def _sqlite_engine(url: str) -> Engine:
    """SQLite with WAL and write transactions that take the lock up front.

    ``BEGIN IMMEDIATE`` makes each transaction take the write lock when it
    starts, which is what serialises audit-chain appends and outbox claims
    across threads and processes (PostgreSQL uses row locks for the same).
    """
    engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def as_utc(moment: datetime) -> datetime:
    """A datetime read from the store, with its zone: SQLite hands them back without
    one, and the store writes UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


#: The server ends a gateway session idle inside a transaction for this long. Every
#: transaction the gateway runs is short (no claim is held across a publish).
IDLE_IN_TRANSACTION_MS = 60_000

#: Exchanges ``Store.iter_exchanges`` reads in one transaction.
EXCHANGES_PER_PAGE = 500

#: A pooled PostgreSQL connection idle this long is checked before it is used again.
PING_AFTER_IDLE_SECONDS = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use only if it sat idle for a while.

    ``pool_pre_ping`` checks every checkout: a round trip and ~0.1 ms of CPU for
    each of the gateway's short, frequent transactions. A connection in steady
    use proves itself; one that waited (through a server restart, say) is pinged,
    and a dead one replaced before anyone sees it. A connection that dies in use
    raises, and SQLAlchemy then discards the whole pool's connections.
    """

    @sa.event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error:
            alive = False
        if not alive:
            # The pool then discards this connection and checks out another.
            raise DisconnectionError("a pooled connection did not answer its ping")


def _bound_idle_transactions(engine: Engine) -> None:
    """A session of ours left idle inside a transaction (a hung thread) is ended by
    the server: held open, it would stop PostgreSQL cleaning up behind the outbox,
    and every claim would read further (README). Set once per connection with SET,
    not as a startup option, which connection poolers such as PgBouncer refuse."""

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cursor:
            cursor.execute(
                f"SET idle_in_transaction_session_timeout = {int(IDLE_IN_TRANSACTION_MS)}"
            )
        dbapi_conn.commit()


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


@contextmanager
def _sqlite_busy_timeout(conn: Connection, milliseconds: int) -> Iterator[None]:
    """SQLite's busy handler set to ``milliseconds`` for a moment, on this connection only."""
    raw = conn.connection.driver_connection
    raw.execute(f"PRAGMA busy_timeout={milliseconds}")
    try:
        yield
    finally:
        raw.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")


def _sqlite_busy(exc: OperationalError) -> bool:
    code = getattr(exc.orig, "sqlite_errorcode", None)
    return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class WriterBusy(Exception):
    """Another writer holds the store (``transaction(wait=False)``); try again shortly."""


class Store:
    """The gateway's durable record: exchanges, decisions, audit chain, outbox."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # SQLite lets one writer in at a time and makes the others sleep in its
        # busy handler (1, 2, 5 ... 100 ms naps). Queuing writers on a lock
        # instead hands the database over the moment it is free.
        self._write_lock: WriterLock | None = None
        if engine.dialect.name == "sqlite":
            database = engine.url.database
            on_disk = database not in (None, "", ":memory:")
            self._write_lock = WriterLock(Path(f"{database}.writer-lock") if on_disk else None)

    @classmethod
    def from_url(cls, url: str) -> Store:
        if url.startswith("sqlite"):
            path = url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            return cls(_sqlite_engine(url))
        engine = sa.create_engine(
            url,
            pool_size=10,
            max_overflow=10,
            pool_timeout=5,
            connect_args={"connect_timeout": 5},
        )
        _ping_when_idle(engine)
        _bound_idle_transactions(engine)
        return cls(engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self, *, wait: bool = True) -> Iterator[Connection]:
        """One transaction; a store that cannot be reached is ServiceUnavailable.

        ``wait=False`` raises WriterBusy instead of waiting for another SQLite
        writer (an event loop must not block on one): a gateway process holding
        the writer lock file, or any other program holding SQLite's own lock.
        """
        lock = self._write_lock
        if lock is not None and not lock.acquire(blocking=wait):
            raise WriterBusy("another writer holds the store")
        try:
            with self.engine.connect() as conn:
                if lock is not None and not wait:
                    # BEGIN IMMEDIATE then fails at once, rather than waits, if SQLite is locked.
                    with _sqlite_busy_timeout(conn, 0):
                        transaction = conn.begin()
                else:
                    transaction = conn.begin()
                with transaction:
                    yield conn
        except DBAPIError as exc:
            if isinstance(exc, OperationalError) and not wait and _sqlite_busy(exc):
                raise WriterBusy("another program holds SQLite's write lock") from exc
            # Unreachable, or a connection the server ended whatever its error's
            # class (an idle transaction timed out is an InternalError).
            if isinstance(exc, OperationalError | SAInterfaceError) or exc.connection_invalidated:
                raise ServiceUnavailable(f"the store is unavailable: {exc.orig}") from exc
            raise
        finally:
            if lock is not None:
                lock.release()

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return True
        except Exception:
            return False

    def queue_table_warnings(self) -> list[str]:
        """What in the database's settings will make the outbox slow down over time.

        The outbox is a queue table: every row is written, claimed and marked
        sent within moments. Without autovacuum the dead row versions stay, and
        every claim reads further through them (``docs/benchmarks.md``, tenth
        and eleventh rounds). Checked on PostgreSQL; SQLite has no such setting.
        """
        if self.dialect != "postgresql":
            return []
        with self.engine.connect() as conn:
            autovacuum, track_counts = conn.execute(
                sa.text("SELECT current_setting('autovacuum'), current_setting('track_counts')")
            ).one()
        if autovacuum == "on" and track_counts == "on":
            return []
        setting = "autovacuum" if autovacuum != "on" else "track_counts (which autovacuum needs)"
        return [
            f"PostgreSQL runs with {setting} off: dead outbox rows will pile up and "
            "claims slow down; turn it on, or VACUUM the outbox table regularly"
        ]

    # -- migrations -------------------------------------------------------
    def _alembic_config(self, conn: Connection) -> Config:
        config = Config(str(_ALEMBIC_INI))
        config.attributes["connection"] = conn
        return config

    def upgrade(self) -> str:
        """Apply every pending migration; return the revision now in force."""
        with self.engine.begin() as conn:
            command.upgrade(self._alembic_config(conn), "head")
        return self.revision() or "none"

    def revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str:
        with self.engine.connect() as conn:
            script = ScriptDirectory.from_config(self._alembic_config(conn))
            return str(script.get_current_head())

    # -- reads --------------------------------------------------------------
    def iter_exchanges(
        self, since: datetime | None = None
    ) -> Iterator[tuple[Exchange, list[dict[str, Any]]]]:
        """Recorded exchanges in submission order, each with its decision records.

        Read a page at a time, each page in a transaction of its own, so the
        caller may take as long as it likes over them: one transaction held
        open across the whole store would be ended by the server
        (``IDLE_IN_TRANSACTION_MS``), and would hold back its cleanup meanwhile.
        """
        exchanges = tables.exchanges
        order = (exchanges.c.submitted_at, exchanges.c.exchange_id)
        query = sa.select(exchanges).order_by(*order).limit(EXCHANGES_PER_PAGE)
        if since is not None:
            query = query.where(exchanges.c.submitted_at >= since)
        page = query
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(page).mappings().all()
            for row in rows:
                envelope = row["envelope"]
                if isinstance(envelope, str):
                    envelope = json.loads(envelope)
                yield Exchange.model_validate(envelope), list(row["decisions"])
            if len(rows) < EXCHANGES_PER_PAGE:
                return
            last = rows[-1]
            after = sa.tuple_(*order) > sa.tuple_(last["submitted_at"], last["exchange_id"])
            page = query.where(after)

    def get_exchange(self, exchange_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    sa.select(tables.exchanges).where(tables.exchanges.c.exchange_id == exchange_id)
                )
                .mappings()
                .first()
            )
            return None if row is None else dict(row)
