"""Sample agreements over every adapter's samples: each recipient gets only what its flow allows.

Runs the pipeline's own validate, decide and minimise stages (no store, no
broker: those are covered by the gateway's end-to-end tests) on every sample,
sent by the partner that would send it, and checks every permitted copy:

- it holds only fields the deciding flow allows (or the envelope);
- health data crosses only under a flow with an Art 9 condition;
- a victim's address and safe contact never reach a perpetrator-facing party;
- a restricted or excluded case reaches only a party that honours access marks;
- therapy content never reaches a law-enforcement party.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from contracts import Exchange
from gateway.errors import InvalidRecord
from gateway.pipeline.validate import validate
from gateway.policy import PolicyBundle, decide, load_bundle, minimise_for
from tests.adapters.helpers import ADAPTERS, EXAMPLES, ROOT, parse_sample, samples

CHESHIRE = ROOT / "policies" / "cheshire-hru"
WEST_MIDLANDS = ROOT / "policies" / "west-midlands-easi"
ENVELOPE = {"contract_version", "exchange_id", "source_partner", "submitted_at", "category"}
ENVELOPE |= {"purpose", "purposes", "urgency"}
THERAPY_CONTENT = (
    "payload.health.summary",
    "payload.health.conditions",
    "payload.health.clinician",
)

#: (agreement, sending party) per sample; the default is per adapter.
SENDERS = {
    "police": (CHESHIRE, "cheshire-police"),
    "fhir": (CHESHIRE, "cwp-mental-health"),
    "probation": (CHESHIRE, "probation-spoc-north"),
    "marac": (CHESHIRE, "cheshire-police"),
    "mappa": (CHESHIRE, "probation-spoc-north"),
    "alert": (CHESHIRE, "mersey-care-forensic"),
    "alert/suicidal-ideation-name-and-dob.json": (WEST_MIDLANDS, "fpc-ltd"),
    "fhir/suicidal-ideation-flag-name-and-dob.json": (WEST_MIDLANDS, "fpc-ltd"),
    "police/daily-screening.json": (WEST_MIDLANDS, "wmp-easi"),
    "marac/meeting-feed.json": (CHESHIRE, "cheshire-marac"),
}
CASES = [(adapter, path) for adapter in ADAPTERS for path in samples(adapter)]
IDS = [f"{adapter}/{path.name}" for adapter, path in CASES]


@cache
def bundle_at(directory: Path) -> PolicyBundle:
    return load_bundle(directory)


def _sender(adapter: str, path: Path) -> tuple[PolicyBundle, str]:
    directory, party = SENDERS.get(f"{adapter}/{path.name}", SENDERS[adapter])
    return bundle_at(directory), party


def _exchanges(adapter: str, path: Path, party: str) -> list[Exchange]:
    items = parse_sample(adapter, path).items
    exchanges = [i for i in items if not isinstance(i, InvalidRecord)]
    for exchange in exchanges:
        exchange.source_partner = party
    return exchanges


def _bare(path: str) -> str:
    return re.sub(r"\[\d*\]", "", path)


def _leaves(value, prefix: str = "") -> set[str]:
    if isinstance(value, dict):
        return {leaf for k, v in value.items() for leaf in _leaves(v, f"{prefix}.{k}".lstrip("."))}
    if isinstance(value, list):
        return {leaf for v in value for leaf in _leaves(v, prefix)} or {prefix}
    return {prefix}


def _allowed(leaf: str, allowed: tuple[str, ...]) -> bool:
    if leaf in ENVELOPE:
        return True
    return any(leaf == a or leaf.startswith(a + ".") for a in (_bare(p) for p in allowed))


def _decisions(adapter: str, path: Path):
    bundle, party = _sender(adapter, path)
    for exchange in _exchanges(adapter, path, party):
        validate(exchange, bundle)  # the samples are valid under their agreement
        record = exchange.model_dump(mode="json")
        for decision in decide(bundle, exchange):
            copy = minimise_for(decision, record, b"test-key").record if decision.permitted else {}
            yield bundle, exchange, decision, copy


@pytest.mark.parametrize(("adapter", "path"), CASES, ids=IDS)
def test_each_recipient_gets_only_what_its_flow_allows(adapter, path):
    for bundle, exchange, decision, copy in _decisions(adapter, path):
        if not decision.permitted:
            assert copy == {}
            continue
        recipient = bundle.parties[decision.recipient]
        leaves = {leaf for leaf in _leaves(copy) if leaf}
        outside = sorted(leaf for leaf in leaves if not _allowed(leaf, decision.allowed_fields))
        assert not outside, f"{decision.recipient} got fields its flow does not allow: {outside}"
        if "payload" in copy and "health" in copy["payload"]:
            assert decision.special_category_condition, "health data crossed without Art 9"
        if recipient.perpetrator_facing:
            victims = {s.ref for s in exchange.subjects if s.role == "victim"}
            for subject in copy.get("subjects", []):
                if subject.get("role") == "victim" or subject.get("ref") in victims:
                    assert "address" not in subject and "safe_contact" not in subject
        if any(s.access is not None for s in exchange.subjects):
            assert recipient.honours_access_marks
        if "law-enforcement" in recipient.tags:
            assert not any(leaf.startswith(THERAPY_CONTENT) for leaf in leaves)


def test_every_adapter_has_samples_that_some_recipient_may_receive():
    permits: Counter[str] = Counter()
    denies: Counter[str] = Counter()
    for adapter, path in CASES:
        for _, _, decision, _ in _decisions(adapter, path):
            (permits if decision.permitted else denies)[adapter] += 1
    assert set(permits) == set(ADAPTERS), (
        f"adapters with no permitted copy: {set(ADAPTERS) - set(permits)}"
    )
    assert sum(denies.values()) > 0


def test_the_samples_directory_is_what_the_table_covers():
    assert {p.name for p in EXAMPLES.iterdir() if p.is_dir()} == set(ADAPTERS)
