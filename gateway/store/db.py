"""Connecting to the store (SQLite or PostgreSQL) and running migrations."""

from __future__ import annotations

import json
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
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import InterfaceError as SAInterfaceError

from contracts import Exchange
from gateway.embedded.writer_lock import WriterLock
from gateway.errors import ServiceUnavailable
from gateway.store import tables

_ALEMBIC_INI = Path(__file__).with_name("alembic.ini")
#: How long a waiting SQLite writer sleeps in SQLite's busy handler before giving up.
SQLITE_BUSY_SECONDS = 30.0


def _sqlite_engine(url: str, busy_timeout_ms: int) -> Engine:
    """SQLite with WAL and write transactions that take the lock up front.

    ``BEGIN IMMEDIATE`` makes each transaction take the write lock when it
    starts, which is what serialises audit-chain appends and outbox claims
    across threads and processes (PostgreSQL uses row locks for the same).
    """
    engine = sa.create_engine(
        url, connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False}
    )

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
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
    def from_url(cls, url: str, *, busy_seconds: float = SQLITE_BUSY_SECONDS) -> Store:
        """``busy_seconds``: how long a SQLite transaction waits for a write lock that
        another program holds before the store is unavailable (503)."""
        if url.startswith("sqlite"):
            path = url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            return cls(_sqlite_engine(url, int(busy_seconds * 1000)))
        engine = sa.create_engine(
            url,
            pool_size=10,
            max_overflow=10,
            pool_timeout=5,
            # A pooled connection is checked before use, so one the server closed
            # meanwhile (a restart) is replaced before anyone sees it.
            pool_pre_ping=True,
            connect_args={"connect_timeout": 5},
        )
        _bound_idle_transactions(engine)
        return cls(engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction; a store that cannot be reached, or a SQLite store another
        program holds for longer than ``busy_seconds``, is ServiceUnavailable."""
        lock = self._write_lock
        if lock is not None:
            lock.acquire()
        try:
            with self.engine.connect() as conn, conn.begin():
                yield conn
        except DBAPIError as exc:
            # Unreachable, locked, , or a connection the server ended whatever its error's
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
            # "heads": work on separate tables may add migrations on parallel
            # branches until a merge revision joins them; each is applied.
            command.upgrade(self._alembic_config(conn), "heads")
        return self.revision() or "none"

    def revision(self) -> str | None:
        """The revision(s) in force, "+"-joined and sorted when branches are open."""
        with self.engine.connect() as conn:
            heads = MigrationContext.configure(conn).get_current_heads()
        return "+".join(sorted(heads)) or None

    def head_revision(self) -> str:
        """The newest revision(s) the code knows, in the form revision() gives."""
        with self.engine.connect() as conn:
            script = ScriptDirectory.from_config(self._alembic_config(conn))
            return "+".join(sorted(script.get_heads()))

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
        # A record erased at the end of its retention period has nothing left to read.
        query = (
            sa.select(exchanges)
            .where(exchanges.c.erased_at.is_(None))
            .order_by(*order)
            .limit(EXCHANGES_PER_PAGE)
        )
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
