"""The identifiers the gateway mints: UUIDv7 (RFC 9562), ordered by creation time.

Exchange, delivery and audit-entry ids are keys of the store's indexes. Random
(version 4) ids put every insert on a random index page, so each commit rewrote
hundreds of pages (SQLite's WAL, PostgreSQL's full-page writes); ids that grow
with time append at the right edge of each index instead. A v7 id carries its
creation time to the millisecond, which says no more than the ``submitted_at``
and ``recorded_at`` beside it.
"""

from __future__ import annotations

import re
from uuid import UUID

import uuid_utils
import uuid_utils.compat


def new_id() -> UUID:
    """A new time-ordered id as a standard ``uuid.UUID`` (the contracts' type)."""
    return uuid_utils.compat.uuid7()


def new_id_text() -> str:
    """A new time-ordered id in its canonical text form, for the hot paths that store text."""
    return str(uuid_utils.uuid7())


_ID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_id_text(value: str) -> bool:
    """Whether ``value`` has the shape of an id as the gateway writes it (a UUID's
    canonical lower-case text): anything else, a NUL byte say, names nothing, and
    is answered without asking the store."""
    return _ID_TEXT.fullmatch(value) is not None
