"""Probation SPOC notifications (``probation-spoc/1``), in and out."""

from __future__ import annotations

from typing import Any

from adapters.base import Adapter, IngestContext, Parsed, build_canonical, validate_native
from adapters.probation.mapping import FORMAT, from_canonical, to_canonical
from adapters.probation.native import ProbationNotification


class ProbationAdapter(Adapter):
    name = "probation"
    media_types = ("application/json",)
    summary = "Probation SPOC notifications: licence, compliance, RoSH, MAPPA, recall, restriction"
    render_categories = frozenset(
        {"compliance", "offender_management", "risk_assessment", "urgent_alert"}
    )

    def parse(self, body: bytes, media_type: str, context: IngestContext) -> Parsed:
        data = self.read_json(body, media_type, f"a {FORMAT} notification")
        note = validate_native(ProbationNotification, data, "probation notification")
        return Parsed(
            [build_canonical(lambda: to_canonical(note, context), "probation notification")]
        )

    def to_native(self, record: dict[str, Any]) -> dict[str, Any]:
        return from_canonical(record)


__all__ = ["ProbationAdapter", "ProbationNotification"]
