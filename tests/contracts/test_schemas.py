"""The committed JSON Schemas must match the models (rerun ``python -m contracts.export``)."""

from __future__ import annotations

import pytest

from contracts.export import EXPORTS, SCHEMA_DIR, render


@pytest.mark.parametrize(("version", "name", "model"), EXPORTS, ids=[e[1] for e in EXPORTS])
def test_committed_schema_is_fresh(version, name, model):
    committed = (SCHEMA_DIR / version / name).read_text(encoding="utf-8")
    assert committed == render(model, version), (
        f"{version}/{name} is stale: run `python -m contracts.export`"
    )
