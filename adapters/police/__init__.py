"""Police crime and occurrence records (format ``police-crime/1``)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from adapters.base import Adapter, IngestContext, Parsed, Rendered, invalid, load_json
from adapters.police.mapping import from_canonical, to_canonical
from adapters.police.native import PoliceCrimeRecord
from gateway.errors import MalformedBody


class PoliceAdapter(Adapter):
    name = "police"
    media_types = ("application/json",)
    summary = "Police crime/occurrence record for stalking and harassment (police-crime/1)"

    def parse(self, body: bytes, media_type: str, context: IngestContext) -> Parsed:
        data = load_json(body)
        if not isinstance(data, dict):
            raise MalformedBody("a police-crime/1 record is a JSON object")
        try:
            record = PoliceCrimeRecord.model_validate(data)
        except ValidationError as exc:
            raise invalid(exc, "police crime record") from None
        try:
            return Parsed([to_canonical(record, context)])
        except ValidationError as exc:
            raise invalid(exc, "police crime record (canonical form)") from None

    def render(self, record: dict[str, Any]) -> Rendered:
        native = from_canonical(record)
        return Rendered(json.dumps(native, sort_keys=True).encode(), self.media_types[0])


__all__ = ["PoliceAdapter", "PoliceCrimeRecord"]
