"""The cohorts file's JSON Schema (draft-07, for editors' YAML servers), built the
way the policy schemas are (``gateway.policy.tools.schema``). Regenerate it after
changing the models::

    .venv/bin/python -m gateway.evaluation.schema

A test fails when the committed file is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from gateway.evaluation.cohorts import CohortsDocument
from gateway.policy.tools.schema import SCHEMA_DIR, render

NAME = "cohorts.schema.json"
TITLE = "Evaluation cohorts: who enters, for how long, under which flow"


def write(directory: Path = SCHEMA_DIR) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / NAME
    path.write_text(render(CohortsDocument, TITLE), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(f"wrote {write(Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMA_DIR)}")
