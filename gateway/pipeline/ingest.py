"""Stage 1, ingest: the partner's native body becomes canonical exchanges."""

from __future__ import annotations

from adapters import AdapterRegistry, IngestContext, Parsed


def ingest(
    registry: AdapterRegistry, fmt: str, body: bytes, media_type: str | None, context: IngestContext
) -> Parsed:
    adapter = registry.get(fmt)
    base_type = adapter.check_media_type(media_type)
    return adapter.parse(body, base_type, context)
