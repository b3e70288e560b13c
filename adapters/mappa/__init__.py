"""MAPPA category and level changes and meeting outcomes (``mappa/1``)."""

from __future__ import annotations

from typing import Any

from adapters.base import Adapter, IngestContext, Parsed, build_canonical, validate_native
from adapters.mappa.mapping import FORMAT, check_notification, from_canonical, to_canonical
from adapters.mappa.native import MappaNotification


class MappaAdapter(Adapter):
    name = "mappa"
    media_types = ("application/json",)
    summary = "MAPPA category (1-4) and level (1-3) changes, meeting outcomes and alerts"
    render_categories = frozenset({"offender_management", "meeting_feed", "urgent_alert"})

    def parse(self, body: bytes, media_type: str, context: IngestContext) -> Parsed:
        data = self.read_json(body, media_type, f"a {FORMAT} notification")
        note = validate_native(MappaNotification, data, "MAPPA notification")
        check_notification(note)
        return Parsed([build_canonical(lambda: to_canonical(note, context), "MAPPA notification")])

    def to_native(self, record: dict[str, Any]) -> dict[str, Any]:
        return from_canonical(record)


__all__ = ["MappaAdapter"]
