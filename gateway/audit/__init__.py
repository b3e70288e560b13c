"""The tamper-evident audit trail: an append-only, hash-chained log."""

from gateway.audit.chain import HASH_ALG, Action, AuditEntry, append
from gateway.audit.verify import Finding, VerifyReport, verify_engine

__all__ = ["HASH_ALG", "Action", "AuditEntry", "Finding", "VerifyReport", "append", "verify_engine"]
