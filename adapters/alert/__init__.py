"""Generic urgent alerts (``alert/1``), in and out.

For partners that have an alert to raise but no records format of their own
here: the West Midlands intervention services (HMPPS psychology, Forensic
Psychology Consultants Ltd), a crisis team's duty desk, a charity. One alert
about one person, named by an NHS number, PNC ID, CRN, NOMS number, the
sender's own case number, or by name and date of birth.
"""

from __future__ import annotations

from typing import Any

from adapters.alert.mapping import FORMAT, from_canonical, to_canonical
from adapters.alert.native import AlertRecord
from adapters.base import Adapter, IngestContext, Parsed, build_canonical, validate_native


class AlertAdapter(Adapter):
    name = "alert"
    media_types = ("application/json",)
    summary = "Urgent alerts from any partner (alert/1): who, which indicators, when, by whom"
    render_categories = frozenset({"urgent_alert"})

    def parse(self, body: bytes, media_type: str, context: IngestContext) -> Parsed:
        data = self.read_json(body, media_type, f"an {FORMAT} record")
        record = validate_native(AlertRecord, data, "alert")
        return Parsed([build_canonical(lambda: to_canonical(record, context), "alert")])

    def to_native(self, record: dict[str, Any]) -> dict[str, Any]:
        return from_canonical(record)


__all__ = ["AlertAdapter", "AlertRecord"]
