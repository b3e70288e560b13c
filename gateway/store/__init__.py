"""The store: SQLite by default, PostgreSQL in production, one schema for both."""

from gateway.store.db import Store

__all__ = ["Store"]
