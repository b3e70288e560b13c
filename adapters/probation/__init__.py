"""Probation SPOC notifications (``probation-spoc/1``), in and out."""

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
from adapters.probation.mapping import FORMAT, from_canonical, to_canonical
from adapters.probation.native import ProbationNotification
from gateway.errors import MalformedBody


class ProbationAdapter(Adapter):
    name = "probation"
    media_types = ("application/json",)
    summary = "Probation SPOC notifications: licence, compliance, RoSH, MAPPA, recall, restriction"
    render_categories = frozenset({"compliance", "offender_management", "risk_assessment"})

    def parse(self, body: bytes, media_type: str, context: IngestContext) -> Parsed:
        self.check_media_type(media_type)
        data = load_json(body)
        if not isinstance(data, dict):
            raise MalformedBody(f"a {FORMAT} notification is a JSON object")
        note = validate_native(ProbationNotification, data, "probation notification")
        return Parsed(
            [build_canonical(lambda: to_canonical(note, context), "probation notification")]
        )

    def render(self, record: dict[str, Any]) -> Rendered:
        return json_rendering(from_canonical(record), self.media_types[0])


__all__ = ["ProbationAdapter", "ProbationNotification"]
