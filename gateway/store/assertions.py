"""Remembering the client assertions already used, across every gateway process."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from gateway.store.db import Store
from gateway.store.tables import used_assertions


def remember_assertion(store: Store, client_id: str, jti: str, expires: float) -> bool:
    """Record ``jti`` for ``client_id``; False if it was used before (a replay).

    Expired ones are cleared on the way: they cannot be presented again anyway."""
    now = datetime.now(UTC)
    with store.transaction() as conn:
        conn.execute(used_assertions.delete().where(used_assertions.c.expires_at < now))
        seen = conn.execute(
            sa.select(sa.literal(1)).where(
                used_assertions.c.client_id == client_id, used_assertions.c.jti == jti
            )
        ).first()
        if seen is not None:
            return False
        conn.execute(
            used_assertions.insert().values(
                client_id=client_id,
                jti=jti,
                expires_at=datetime.fromtimestamp(expires, UTC),
            )
        )
    return True
