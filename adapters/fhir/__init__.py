"""NHS FHIR R4 (``application/fhir+json`` or ``+xml``): resources and Bundles in, a Bundle out.

See ``native.py`` for what is accepted, ``xml_format.py`` for how XML is read
into the same JSON form, and ``mapping.py`` for how it maps; the format is
documented in ``docs/formats/fhir.md``.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from adapters.base import (
    Adapter,
    IngestContext,
    Parsed,
    build_canonical,
    drop_empty,
    load_json_object,
)
from adapters.fhir import native, xml_format
from adapters.fhir.mapping import from_canonical, group_by_patient, to_canonical
from gateway.errors import FieldProblem, InvalidRecord


class FhirAdapter(Adapter):
    name = "fhir"
    media_types = (native.MEDIA_TYPE, "application/json", native.XML_MEDIA_TYPE)
    summary = "NHS FHIR R4 resources and Bundles (UK Core): health information, alerts, referrals"

    def parse(self, body: bytes, media_type: str, context: IngestContext) -> Parsed:
        base = self.check_media_type(media_type)
        # XML is read into the JSON form; from here on there is one path for both.
        if base == native.XML_MEDIA_TYPE:
            data = xml_format.load(body)
        else:
            data = load_json_object(body, "a FHIR resource or Bundle")
        if data.get("resourceType") == "Bundle":
            envelope, resources = native.validate_bundle(data)
        else:
            resource = native.validate_resource(data)
            envelope, resources = resource, [resource]
        groups = group_by_patient(resources)
        if not groups:
            raise InvalidRecord(
                "the submission is about no patient",
                [FieldProblem("entry", "no Patient and no resource with a subject")],
            )
        if len(groups) > 1:
            second = groups[1]
            raise InvalidRecord(
                f"the submission is about {len(groups)} patients; send one per patient",
                [
                    FieldProblem(
                        "entry" if second.index is None else f"entry[{second.index}].resource",
                        "a second patient: health data about two people never travels in "
                        "one record",
                        second.index,
                    )
                ],
            )
        (group,) = groups
        return Parsed(
            [build_canonical(lambda: to_canonical(group, envelope, context), "FHIR submission")]
        )

    def to_native(self, record: dict[str, Any]) -> dict[str, Any]:
        bundle = drop_empty(from_canonical(record))
        try:
            get_fhir_model_class("Bundle").model_validate(bundle)
        except ValidationError as exc:  # our mapping's fault, not the caller's
            raise RuntimeError(f"rendered FHIR Bundle does not validate: {exc}") from exc
        return bundle


__all__ = ["FhirAdapter"]
