"""MAPPA category and level changes and meeting outcomes (``mappa/1``)."""

from __future__ import annotations

from typing import Any

from adapters.base import (
    Adapter,
    IngestContext,
    Parsed,
    Rendered,
    build_canonical,
    json_rendering,
    load_json,
    validate_native,
)
from adapters.mappa.mapping import FORMAT, check_notification, from_canonical, to_canonical
from adapters.mappa.native import MappaNotification
from gateway.errors import MalformedBody


class MappaAdapter(Adapter):
    name = "mappa"
    media_types = ("application/json",)
    summary = "MAPPA category (1-4) and level (1-3) changes and meeting outcomes"
    render_categories = frozenset({"offender_management", "meeting_feed"})

    def parse(self, body: bytes, media_type: str, context: IngestContext) -> Parsed:
        self.check_media_type(media_type)
        data = load_json(body)
        if not isinstance(data, dict):
            raise MalformedBody(f"a {FORMAT} notification is a JSON object")
        note = validate_native(MappaNotification, data, "MAPPA notification")
        check_notification(note)
        return Parsed([build_canonical(lambda: to_canonical(note, context), "MAPPA notification")])

    def render(self, record: dict[str, Any]) -> Rendered:
        return json_rendering(from_canonical(record), self.media_types[0])


__all__ = ["MappaAdapter"]
