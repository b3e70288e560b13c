"""The routes files' JSON Schemas (draft-07, for editors' YAML servers).

Built the way the policy schemas are (``gateway.policy.tools.schema``).
Regenerate them after changing the models::

    .venv/bin/python -m gateway.routing.schema

A test fails when the committed files are stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic import BaseModel

from gateway.policy.tools.schema import SCHEMA_DIR, render
from gateway.routing.model import RoutesDocument
from gateway.routing.suite import RouteSuite

SCHEMAS: dict[str, tuple[type[BaseModel], str]] = {
    "routes.schema.json": (RoutesDocument, "Routing rules: who at a party receives, and who next"),
    "routes-test.schema.json": (RouteSuite, "Routing test suite"),
}


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
