"""Partner adapters: native formats in and out of the canonical contract.

What an adapter needs, ours or a third party's (a force's own records system,
shipped as its own package), is exported here: the :class:`Adapter` base and
its results, the helpers that read and validate a native body and build the
canonical record, and the errors an adapter raises. Code inside an adapter
package may reach further into :mod:`adapters.base`; nothing outside should.
"""

from adapters.base import (
    MAX_BATCH_ROWS,
    Adapter,
    IngestContext,
    NativeModel,
    Parsed,
    Rendered,
    build_canonical,
    check_batch_size,
    drop_empty,
    load_json,
    load_json_object,
    validate_native,
)
from adapters.registry import AdapterRegistry, load_registry
from gateway.errors import (
    BatchTooLarge,
    FieldProblem,
    InvalidRecord,
    MalformedBody,
    UnsupportedMediaType,
)

__all__ = [
    "MAX_BATCH_ROWS",
    "Adapter",
    "AdapterRegistry",
    "BatchTooLarge",
    "FieldProblem",
    "IngestContext",
    "InvalidRecord",
    "MalformedBody",
    "NativeModel",
    "Parsed",
    "Rendered",
    "UnsupportedMediaType",
    "build_canonical",
    "check_batch_size",
    "drop_empty",
    "load_json",
    "load_json_object",
    "load_registry",
    "validate_native",
]
