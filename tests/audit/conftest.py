"""The sealed, checkpointed trail the tamper, export and pruning tests share."""

from tests.audit.test_tamper import trail, trail_templates

__all__ = ["trail", "trail_templates"]
