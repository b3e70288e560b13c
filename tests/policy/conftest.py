"""Shared fixtures: the real sample agreements and real canonical exchanges."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contracts import Exchange
from gateway.policy import PolicyBundle, load_bundle

ROOT = Path(__file__).resolve().parents[2]
CHESHIRE = ROOT / "policies" / "cheshire-hru"
WEST_MIDLANDS = ROOT / "policies" / "west-midlands-easi"


@pytest.fixture(scope="session")
def cheshire() -> PolicyBundle:
    return load_bundle(CHESHIRE)


def crime_exchange(**changes: object) -> Exchange:
    """A police stalking crime record: suspect in Warrington, victim in Halton."""
    data = {
        "exchange_id": "6f1c2a52-8a7e-4d7e-9a43-3b0d1e2f4a11",
        "source_partner": "cheshire-police",
        "submitted_at": "2026-11-20T15:00:00Z",
        "category": "crime_record",
        "purpose": "stalking-risk-management",
        "case_reference": "HRU-2026-0142",
        "subjects": [
            {
                "ref": "P1",
                "role": "suspect",
                "identifiers": [{"system": "pnc_id", "value": "12/345678A"}],
                "name": {"given": "Daniel", "family": "Marsh"},
                "date_of_birth": "1985-03-02",
                "address": {"postcode": "WA1 1AA", "local_authority": "Warrington"},
            },
            {
                "ref": "V1",
                "role": "victim",
                "name": {"given": "Sarah", "family": "Keane"},
                "address": {
                    "lines": ["2 Elm Close"],
                    "postcode": "WA7 2BB",
                    "local_authority": "Halton",
                },
                "safe_contact": "Mobile via advocate only",
            },
        ],
        "payload": {
            "crime": {
                "occurrence_number": "CC-2026-004512",
                "offence": {"code": "8Q", "description": "Stalking"},
                "summary": "Repeated unwanted messages. " * 30,
                "status": "under investigation",
            },
            "risk": {"tool": "SASH", "level": "high"},
        },
    }
    data.update(changes)
    return Exchange.model_validate(json.loads(json.dumps(data)))
