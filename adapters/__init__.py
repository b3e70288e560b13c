"""Partner adapters: native formats in and out of the canonical contract."""

from adapters.base import MAX_BATCH_ROWS, Adapter, BatchTooLarge, IngestContext, Parsed, Rendered
from adapters.registry import AdapterRegistry, load_registry

__all__ = [
    "MAX_BATCH_ROWS",
    "Adapter",
    "AdapterRegistry",
    "BatchTooLarge",
    "IngestContext",
    "Parsed",
    "Rendered",
    "load_registry",
]
