"""The sealed, checkpointed trail the tamper, export and pruning tests share."""

from tests.audit.test_tamper import trail

__all__ = ["trail"]
