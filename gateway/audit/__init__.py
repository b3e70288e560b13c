"""The tamper-evident audit trail: an append-only, hash-chained log.

Entries and their digests are built here; ``gateway.store.audit_log.append``
writes them to the store.
"""

from gateway.audit.chain import HASH_ALG, Action, AuditEntry
from gateway.audit.verify import Finding, VerifyReport, verify_engine

__all__ = ["HASH_ALG", "Action", "AuditEntry", "Finding", "VerifyReport", "verify_engine"]
