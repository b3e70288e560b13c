"""The real sample agreements and their routes, and a way to write small routes files."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from contracts import Exchange
from gateway.policy import PolicyBundle, load_bundle
from gateway.routing import Routes, load_routes

ROOT = Path(__file__).resolve().parents[2]
CHESHIRE = ROOT / "policies" / "cheshire-hru"
WEST_MIDLANDS = ROOT / "policies" / "west-midlands-easi"


@pytest.fixture(scope="session")
def cheshire_bundle() -> PolicyBundle:
    return load_bundle(CHESHIRE)


@pytest.fixture(scope="session")
def cheshire(cheshire_bundle: PolicyBundle) -> Routes:
    return load_routes(CHESHIRE / "routes", cheshire_bundle)


@pytest.fixture(scope="session")
def west_midlands() -> Routes:
    return load_routes(WEST_MIDLANDS / "routes", load_bundle(WEST_MIDLANDS))


def write_routes(directory: Path, text: str, name: str = "routes.yaml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return directory


def alert(urgency: str = "immediate", **payload: Any) -> Exchange:
    """An urgent alert about an offender in Warrington managed by the North PDU."""
    data: dict[str, Any] = {
        "exchange_id": "0b7a1c2e-5e55-4a8e-8f3d-1c2b3a4d5e6f",
        "source_partner": "probation-spoc-north",
        "submitted_at": "2026-06-01T10:00:00Z",
        "category": "urgent_alert",
        "urgency": urgency,
        "subjects": [
            {
                "ref": "P1",
                "role": "offender",
                "probation_pdu": "North",
                "address": {"local_authority": "Warrington"},
            }
        ],
        "payload": {
            "alert": {"kind": "threat_to_kill", "raised_at": "2026-06-01T09:55:00Z"},
            **payload,
        },
    }
    return Exchange.model_validate(data)
