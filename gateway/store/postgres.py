"""PostgreSQL's hot writes in as few round trips as the data allows, because each
round trip wakes the committing thread and a server process (docs/benchmarks.md).

Every table's rows are one ``INSERT ... SELECT FROM unnest(arrays)``, the
columns sent as binary arrays (no text escaping of the JSON inside), and
statements that need no answer wait in a libpq pipeline until one does: the
audit head's lock is the only answer a commit needs before its end. A group
commit is then four round trips: BEGIN, which psycopg always waits for; the
rows and the head's lock; the entries and the head's move; COMMIT.

The statements run on psycopg's own connection, under SQLAlchemy's
transaction; their errors are raised as SQLAlchemy's, so callers handle one
kind (``IntegrityError``, a lost connection invalidated). Elsewhere the plain
SQLAlchemy statements do the same work (``tables.insert_rows``,
``audit_log.append``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from functools import lru_cache
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg import pq
from sqlalchemy.dialects import postgresql

_DIALECT: sa.Dialect = postgresql.psycopg.dialect()  # type: ignore[no-untyped-call]


@contextmanager
def driver_connection(conn: sa.Connection) -> Iterator[psycopg.Connection[Any]]:
    """psycopg's connection under ``conn``, its errors raised as SQLAlchemy's."""
    raw: psycopg.Connection[Any] = conn.connection.driver_connection  # type: ignore[assignment]
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        yield raw
    except dbapi_error as exc:
        lost = conn.dialect.is_disconnect(exc, conn.connection, None)
        if lost:
            conn.invalidate(exc)
        raise sa.exc.DBAPIError.instance(
            None, None, exc, dbapi_error, connection_invalidated=lost
        ) from exc


def shared_round_trips(conn: sa.Connection) -> Any:
    """On PostgreSQL, a pipeline: the writes of ``insert_rows`` and ``append`` inside
    it are sent together, and wait for the server only where an answer is read (or
    the block ends). Elsewhere, or inside a pipeline already, nothing (a nested
    pipeline would cost a round trip to enter and one to leave). Only this
    module's statements may run inside it."""
    if conn.dialect.name != "postgresql":
        return nullcontext()
    raw: psycopg.Connection[Any] = conn.connection.driver_connection  # type: ignore[assignment]
    if raw.pgconn.pipeline_status != pq.PipelineStatus.OFF:
        return nullcontext()
    return _pipeline(conn)


@contextmanager
def _pipeline(conn: sa.Connection) -> Iterator[None]:
    with driver_connection(conn) as raw, raw.pipeline():
        yield


def insert_rows(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (same keys, JSON columns serialised) in one statement."""
    statement = _unnest_insert(table, tuple(rows[0]))
    columns = [[row[key] for row in rows] for key in rows[0]]
    with driver_connection(conn) as raw, raw.cursor() as cursor:
        cursor.execute(statement, columns)


def execute(conn: sa.Connection, statement: tuple[str, dict[str, Any]], **values: Any) -> None:
    """Run a statement made by ``as_text``, with ``values`` added to its parameters."""
    text, parameters = statement
    with driver_connection(conn) as raw, raw.cursor() as cursor:
        cursor.execute(text, {**parameters, **values})


def fetch_one(conn: sa.Connection, statement: tuple[str, dict[str, Any]]) -> tuple[Any, ...]:
    """The first row of a statement made by ``as_text``. In a pipeline, this is where
    the statements queued before it are sent and answered."""
    text, parameters = statement
    with driver_connection(conn) as raw, raw.cursor() as cursor:
        cursor.execute(text, parameters)
        row = cursor.fetchone()
    if row is None:
        raise sa.exc.NoResultFound(f"no row from {text!r}")
    return tuple(row)


def as_text(statement: sa.ClauseElement) -> tuple[str, dict[str, Any]]:
    """A SQLAlchemy statement as psycopg takes it: SQL text and fixed parameters."""
    compiled = statement.compile(dialect=_DIALECT)
    return compiled.string, dict(compiled.params)


@lru_cache(maxsize=64)
def _unnest_insert(table: sa.Table, keys: tuple[str, ...]) -> str:
    """``INSERT INTO table (columns) SELECT * FROM unnest(%b::type[], ...)``: one
    binary array per column (``%b``: psycopg sends them binary, so the JSON
    inside is not escaped as an array literal's text would need)."""
    quote = _DIALECT.identifier_preparer.quote
    columns = [table.c[key] for key in keys]
    names = ", ".join(quote(c.name) for c in columns)
    arrays = ", ".join(f"%b::{c.type.compile(dialect=_DIALECT)}[]" for c in columns)
    return f"INSERT INTO {quote(table.name)} ({names}) SELECT * FROM unnest({arrays})"
