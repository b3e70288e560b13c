"""Tampering with a store as an attacker with the database's admin rights would.

On PostgreSQL the audit table refuses UPDATE, DELETE and TRUNCATE (migration
0016); a superuser can switch triggers off for a session, which is what these
helpers do. That is the attacker the signed checkpoints are for.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.store import Store


@contextmanager
def tampering(store: Store) -> Iterator[Connection]:
    """A transaction in which the audit tables' triggers do not fire."""
    with store.transaction() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        yield conn
