"""The JSON Schemas of the partner formats' request bodies, for the OpenAPI document.

An adapter names the native models a body of each of its media types may be
with a ``request_models`` attribute: ``{media type: (model, ...)}``, pydantic
models (FHIR's from fhir.resources included). A media type that is not JSON
(a CSV batch, FHIR XML) is documented as text, and its models describe what
one record in it holds (a CSV row's columns). The formats shipped in this
repository are named in :data:`SHIPPED` until their adapters declare it
themselves; a third party's adapter without it gets a body of any JSON value
or text.

Each format's schemas go into ``components/schemas`` as ``<format>.<Model>``:
two formats may both have a ``NativeAddress`` that are not the same.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from adapters import Adapter
from adapters.alert.native import AlertRecord
from adapters.fhir import native as fhir_native
from adapters.mappa.native import MappaNotification
from adapters.marac.native import MaracAlert, MaracMeetingFeed, MaracReferral
from adapters.police.native import PoliceCrimeRecord
from adapters.police.screening import ScreeningBatch, ScreeningRow
from adapters.probation.native import ProbationNotification

RequestModels = Mapping[str, Sequence[type[BaseModel]]]


def _fhir_models() -> tuple[type[BaseModel], ...]:
    names = ("Bundle", *fhir_native.SUPPORTED)
    return tuple(get_fhir_model_class(name) for name in names)


#: The request models of the adapters in this repository, by format.
SHIPPED: dict[str, Callable[[], RequestModels]] = {
    "police": lambda: {
        "application/json": (PoliceCrimeRecord, ScreeningBatch),
        "text/csv": (ScreeningRow,),
    },
    "fhir": lambda: {
        fhir_native.MEDIA_TYPE: _fhir_models(),
        "application/json": _fhir_models(),
        fhir_native.XML_MEDIA_TYPE: (),
    },
    "probation": lambda: {"application/json": (ProbationNotification,)},
    "marac": lambda: {"application/json": (MaracReferral, MaracMeetingFeed, MaracAlert)},
    "mappa": lambda: {"application/json": (MappaNotification,)},
    "alert": lambda: {"application/json": (AlertRecord,)},
}

#: What a text body is, by media type, where the models cannot say it.
TEXT_BODIES = {
    "text/csv": "CSV in UTF-8 (a byte order mark is allowed): a header row naming the "
    "columns, then one record per row.",
    fhir_native.XML_MEDIA_TYPE: "FHIR R4 XML: the same resources and Bundles as the JSON form.",
}

#: Annotations fhir.resources adds to its schemas that are not JSON Schema.
_FHIR_ANNOTATIONS = (
    "element_property",
    "element_required",
    "enum_values",
    "enum_reference_types",
    "one_of_many",
    "one_of_many_required",
    "summary_element_property",
)


@dataclass(frozen=True)
class Body:
    """One media type's request body: its schema and the named schemas it refers to."""

    schema: dict[str, Any]
    components: dict[str, dict[str, Any]]


def request_models(adapter: Adapter) -> RequestModels | None:
    declared: RequestModels | None = getattr(adapter, "request_models", None)
    if declared is not None:
        return declared
    shipped = SHIPPED.get(adapter.name)
    return None if shipped is None else shipped()


def bodies(adapter: Adapter) -> dict[str, Body]:
    """A body per media type the adapter reads."""
    models = request_models(adapter) or {}
    out = {}
    for media_type in adapter.media_types:
        out[media_type] = _body(adapter.name, media_type, tuple(models.get(media_type, ())))
    return out


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


def _body(fmt: str, media_type: str, models: tuple[type[BaseModel], ...]) -> Body:
    refs, components = _component_schemas(fmt, models)
    if not _is_json(media_type):
        described = TEXT_BODIES.get(media_type, f"A {media_type} body.")
        if refs:
            names = ", ".join(f"`{ref['$ref'].rsplit('/', 1)[1]}`" for ref in refs)
            described += f" Each record holds the fields of {names}."
        return Body({"type": "string", "description": described}, components)
    if not refs:
        return Body({"description": f"A {fmt} document."}, components)
    return Body(refs[0] if len(refs) == 1 else {"anyOf": refs}, components)


def _component_schemas(
    fmt: str, models: tuple[type[BaseModel], ...]
) -> tuple[list[dict[str, str]], dict[str, dict[str, Any]]]:
    """A reference to each model's schema, and the schemas by component name."""
    if not models:
        return [], {}
    prefix = f"#/components/schemas/{fmt}."
    keyed, definitions = models_json_schema(
        [(m, "validation") for m in models], ref_template=prefix + "{model}"
    )
    schemas: dict[str, dict[str, Any]] = {}
    for name, schema in definitions.get("$defs", {}).items():
        schema["title"] = _title(fmt, name)
        schemas[f"{fmt}.{name}"] = schema
    refs = []
    for model in models:
        ref = keyed[(model, "validation")]["$ref"]
        refs.append({"$ref": ref})
        _name_resource_type(schemas[ref.removeprefix("#/components/schemas/")], model)
    return refs, schemas


def _title(fmt: str, name: str) -> str:
    """What a client generator names the model: ``PoliceNativeAddress``, not one of three
    ``NativeAddress`` (they take the title, not the component's name)."""
    prefix = "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", fmt))
    return name if name.lower().startswith(prefix.lower()) else prefix + name


def _name_resource_type(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """A FHIR resource's JSON carries ``resourceType``, which fhir.resources reads
    without declaring it in the model's schema (which forbids unknown members)."""
    resource_type = getattr(model, "get_resource_type", None)
    if resource_type is None:
        return
    name = resource_type()
    schema["properties"] = {"resourceType": {"const": name}, **schema.get("properties", {})}
    schema["required"] = ["resourceType", *schema.get("required", [])]
    _drop_annotations(schema)
    schema["properties"].pop("fhir_comments", None)  # fhir.resources' own, not FHIR's


def _drop_annotations(node: Any) -> None:
    if isinstance(node, dict):
        for key in _FHIR_ANNOTATIONS:
            node.pop(key, None)
        for value in node.values():
            _drop_annotations(value)
    elif isinstance(node, list):
        for value in node:
            _drop_annotations(value)
