"""The policy language's JSON Schema, in the draft-07 form editors' YAML servers read.

Pydantic emits JSON Schema 2020-12 (``$defs``); the YAML language servers in
common editors understand draft-07 and older, so the published files use
``definitions`` and name draft-07. Regenerate them after changing the models::

    .venv/bin/python -m gateway.policy.tools.schema

A test fails when the committed files are stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from contracts import Exchange, field_paths
from gateway.policy.model import PolicyDocument
from gateway.policy.tools.suite import Suite

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "policies" / "schema"
DRAFT_07 = "http://json-schema.org/draft-07/schema#"
SCHEMAS: dict[str, tuple[type[BaseModel], str]] = {
    "policy.schema.json": (PolicyDocument, "Information-sharing agreement policy file"),
    "policy-test.schema.json": (Suite, "Policy test suite"),
}


def draft07(model: type[BaseModel], title: str) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True, ref_template="#/definitions/{model}")
    definitions = schema.pop("$defs", {})
    schema.pop("title", None)
    out: dict[str, Any] = {"$schema": DRAFT_07, "title": title}
    out.update(schema)
    out = _point_paths_at_definition(out)
    definitions = _point_paths_at_definition(definitions)
    definitions["FieldPath"] = field_path_schema()
    out["definitions"] = dict(sorted(definitions.items()))
    return out


def _point_paths_at_definition(node: Any) -> Any:
    """Replace the field-path marker with a reference to the list of known paths."""
    if isinstance(node, dict):
        if node.get("x-field-path"):
            extra = {k: v for k, v in node.items() if k not in {"type", "x-field-path"}}
            ref = {"$ref": "#/definitions/FieldPath"}
            return {"allOf": [ref], **extra} if extra else ref
        return {k: _point_paths_at_definition(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_point_paths_at_definition(v) for v in node]
    return node


def field_path_schema() -> dict[str, Any]:
    """Every canonical field path (with and without a list's trailing ``[]``)."""
    paths = set(field_paths(Exchange))
    paths |= {p.removesuffix("[]") for p in paths}
    return {
        "description": "A field of the canonical exchange (contracts/v1.py).",
        "type": "string",
        "enum": sorted(paths),
    }


def render(model: type[BaseModel], title: str) -> str:
    return json.dumps(draft07(model, title), indent=2, ensure_ascii=False) + "\n"


def write(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (model, title) in SCHEMAS.items():
        path = directory / name
        path.write_text(render(model, title), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write(Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMA_DIR):
        print(f"wrote {path}")
