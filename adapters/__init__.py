"""Partner adapters: native formats in and out of the canonical contract."""

from adapters.base import Adapter, IngestContext, Parsed, Rendered
from adapters.registry import AdapterRegistry, load_registry

__all__ = ["Adapter", "AdapterRegistry", "IngestContext", "Parsed", "Rendered", "load_registry"]
