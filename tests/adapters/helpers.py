"""Shared test helpers for adapters: parsing samples and the one golden-file helper.

Golden files are refreshed deliberately, never silently::

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/adapters -q

then review ``git diff tests/adapters/golden`` before committing.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters import IngestContext, Parsed, load_registry
from contracts import Exchange
from gateway.errors import InvalidRecord

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
GOLDEN = Path(__file__).parent / "golden"
ADAPTERS = ("police", "fhir", "probation", "marac", "mappa", "alert")

#: The time a test submission "arrives"; fixed so outputs are stable.
RECEIVED_AT = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
CONTEXT = IngestContext(source_partner="test-partner", received_at=RECEIVED_AT)

#: Values that differ on every run, replaced before comparing.
VOLATILE = {"exchange_id": "<exchange-id>", "submitted_at": "<submitted-at>"}

REGISTRY = load_registry()


def media_type_for(adapter: str, path: Path) -> str:
    if path.suffix == ".csv":
        return "text/csv"
    return "application/fhir+json" if adapter == "fhir" else "application/json"


def parse(adapter: str, body: bytes | str | dict | list, media_type: str | None = None) -> Parsed:
    if isinstance(body, dict | list):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    media = media_type or ("application/fhir+json" if adapter == "fhir" else "application/json")
    return REGISTRY.get(adapter).parse(body, media, CONTEXT)


def parse_sample(adapter: str, path: Path) -> Parsed:
    return parse(adapter, path.read_bytes(), media_type_for(adapter, path))


def samples(adapter: str) -> list[Path]:
    return sorted(p for p in (EXAMPLES / adapter).iterdir() if p.suffix in (".json", ".csv"))


def canonical(item: Exchange | InvalidRecord) -> dict[str, Any]:
    """The JSON form of a parsed item: an exchange, or the error a bad row got."""
    if isinstance(item, InvalidRecord):
        return {"error": {"type": item.slug, "problems": [p.as_dict() for p in item.problems]}}
    return item.model_dump(mode="json", exclude_none=True)


def normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: VOLATILE.get(k, normalise(v)) if k in VOLATILE else normalise(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": [1]}}`` -> ``{"a.b[0]": 1}``, so differences are named field by field."""
    if isinstance(value, dict):
        if not value:
            return {prefix: {}}
        out: dict[str, Any] = {}
        for key, child in value.items():
            out.update(flatten(child, f"{prefix}.{key}" if prefix else key))
        return out
    if isinstance(value, list):
        if not value:
            return {prefix: []}
        out = {}
        for index, child in enumerate(value):
            out.update(flatten(child, f"{prefix}[{index}]"))
        return out
    return {prefix: value}


def field_differences(expected: Any, actual: Any) -> list[str]:
    want, got = flatten(expected), flatten(actual)
    lines = []
    for path in sorted(want.keys() | got.keys()):
        if path not in got:
            lines.append(f"{path}: missing (expected {want[path]!r})")
        elif path not in want:
            lines.append(f"{path}: unexpected {got[path]!r}")
        elif want[path] != got[path]:
            lines.append(f"{path}: expected {want[path]!r}, got {got[path]!r}")
    return lines


def check_golden(name: str, actual: Any) -> None:
    """Compare ``actual`` with ``golden/<name>`` field by field, or refresh it on request."""
    path = GOLDEN / name
    actual = normalise(actual)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(actual, indent=2, sort_keys=True, ensure_ascii=False)
        path.write_text(text + "\n", encoding="utf-8")
        return
    assert path.exists(), f"no golden file {path}; run with UPDATE_GOLDEN=1 and review it"
    expected = json.loads(path.read_text(encoding="utf-8"))
    differences = field_differences(expected, actual)
    assert not differences, f"{name} differs from its golden file:\n  " + "\n  ".join(differences)
