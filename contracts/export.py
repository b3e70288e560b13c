"""Export the contracts' JSON Schemas into ``contracts/schemas/``.

Run ``python -m contracts.export`` after changing a model; a test fails while
the committed files are stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from contracts.v1 import Exchange

SCHEMA_DIR = Path(__file__).parent / "schemas"

#: (contract version, file name, model) for every exported schema.
EXPORTS: list[tuple[str, str, type[BaseModel]]] = [
    ("v1", "exchange.schema.json", Exchange),
]


def render(model: type[BaseModel], version: str) -> str:
    schema = model.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://isg-gateway.example/contracts/{version}/{model.__name__}"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_all(root: Path = SCHEMA_DIR) -> list[Path]:
    written = []
    for version, name, model in EXPORTS:
        target = root / version / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render(model, version), encoding="utf-8")
        written.append(target)
    return written


if __name__ == "__main__":
    for path in write_all():
        sys.stdout.write(f"wrote {path}\n")
