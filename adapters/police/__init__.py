"""Police crime and occurrence records (``police-crime/1``) and the daily screening batch.

An urgent alert is a ``police-crime/1`` record of ``record_type`` ``alert`` with
an ``alert`` block; it may come without an occurrence.

A JSON body is one crime record or, when its ``format`` is
``police-screening/1``, a screening batch; a CSV body is always a screening
batch. A batch reports each bad row as its own error and lets the good rows
through; a single record is accepted or refused whole.
"""

from __future__ import annotations

from typing import Any

from adapters.base import (
    Adapter,
    IngestContext,
    Parsed,
    build_canonical,
    check_batch_size,
    load_json_object,
    validate_native,
)
from adapters.police import screening
from adapters.police.mapping import (
    check_person_refs,
    check_record_type,
    from_canonical,
    to_canonical,
)
from adapters.police.native import PoliceCrimeRecord
from contracts import Exchange
from gateway.errors import InvalidRecord

CRIME_FORMAT = "police-crime/1"
SCREENING_FORMAT = "police-screening/1"


def _record_to_exchange(
    data: dict[str, Any], context: IngestContext, row: int | None = None
) -> Exchange:
    what = "police crime record" if row is None else f"screening row {row}"
    record = validate_native(PoliceCrimeRecord, data, what, record=row)
    check_record_type(record, row)
    check_person_refs(record, row)
    return build_canonical(lambda: to_canonical(record, context, row), what, row)


class PoliceAdapter(Adapter):
    name = "police"
    media_types = ("application/json", "text/csv")
    summary = "Police crime records (police-crime/1) and the daily screening batch (CSV or JSON)"
    render_categories = frozenset(
        {"crime_record", "custody_event", "disposal", "civil_order", "urgent_alert"}
    )

    def parse(self, body: bytes, media_type: str, context: IngestContext) -> Parsed:
        if self.check_media_type(media_type) == "text/csv":
            rows = screening.read_csv(body)
            check_batch_size(len(rows))
            # A CSV has no envelope: purposes come from each row, or the registration.
            return self._parse_batch(rows, [], context)
        data = load_json_object(body, f"a {CRIME_FORMAT} record or {SCREENING_FORMAT} batch")
        if data.get("format") == SCREENING_FORMAT:
            rows, purposes = screening.batch_rows(data)
            return self._parse_batch(rows, purposes, context)
        return Parsed([_record_to_exchange(data, context)])

    def _parse_batch(self, rows: list[Any], purposes: list[str], context: IngestContext) -> Parsed:
        items: list[Exchange | InvalidRecord] = []
        for index, raw in enumerate(rows):
            try:
                fault = screening.row_problem(raw, index) if isinstance(raw, dict) else None
                if fault:
                    raise fault
                row = screening.parse_row(raw, index)
                record = screening.to_crime_record(row, purposes, index)
                items.append(_record_to_exchange(record, context, row=index))
            except InvalidRecord as error:
                items.append(error)
        return Parsed(items, batch=True)

    def to_native(self, record: dict[str, Any]) -> dict[str, Any]:
        return from_canonical(record)


__all__ = ["PoliceAdapter", "PoliceCrimeRecord"]
