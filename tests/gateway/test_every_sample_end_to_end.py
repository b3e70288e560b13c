"""Every adapter's samples through the running gateway, the real broker and the store:
each permitted recipient receives exactly the minimised copy its flow allows,
nothing else, and denied recipients receive nothing."""

from __future__ import annotations

import json

import pytest

from contracts import Exchange
from gateway.delivery.reader import read_topic
from gateway.policy import decide, minimise_for
from tests.adapters.helpers import ADAPTERS, samples
from tests.conftest import ROOT, TEST_KEY, start_gateway

SENDER = {
    "police": "cheshire-police",
    "fhir": "cwp-mental-health",
    "probation": "probation-spoc-north",
    "marac": "cheshire-police",
    "mappa": "probation-spoc-north",
    "alert": "mersey-care-forensic",
    "marac/meeting-feed.json": "cheshire-marac",
    "mappa/meeting-outcome.json": "cheshire-mappa",
}
#: Samples written for the West Midlands early-intervention agreement, and their sender.
WEST_MIDLANDS = {
    "police/daily-screening.json": "wmp-easi",
    "fhir/suicidal-ideation-flag-name-and-dob.json": "fpc-ltd",
    "alert/suicidal-ideation-name-and-dob.json": "fpc-ltd",
}
CASES = [
    (adapter, path)
    for adapter in ADAPTERS
    for path in samples(adapter)
    if f"{adapter}/{path.name}" not in WEST_MIDLANDS
]
WM_CASES = [
    (adapter, path)
    for adapter in ADAPTERS
    for path in samples(adapter)
    if f"{adapter}/{path.name}" in WEST_MIDLANDS
]


@pytest.fixture(scope="module")
def west_midlands_gateway(broker, tmp_path_factory):
    data = tmp_path_factory.mktemp("wm")
    running, server, thread = start_gateway(
        "sqlite",
        f"sqlite:///{data / 'wm.db'}",
        broker.bootstrap,
        data,
        policy_dir=ROOT / "policies" / "west-midlands-easi",
    )
    yield running
    server.should_exit = True
    thread.join(timeout=10)
    running.runtime.stop()


def _content_type(adapter: str, name: str) -> str:
    if name.endswith(".csv"):
        return "text/csv"
    return "application/fhir+json" if adapter == "fhir" else "application/json"


@pytest.mark.parametrize(("adapter", "path"), CASES, ids=[f"{a}/{p.name}" for a, p in CASES])
def test_sample_reaches_only_permitted_recipients_minimised(gateway, adapter, path):
    check_sample(gateway, adapter, path, SENDER.get(f"{adapter}/{path.name}", SENDER[adapter]))


@pytest.mark.parametrize(("adapter", "path"), WM_CASES, ids=[f"{a}/{p.name}" for a, p in WM_CASES])
def test_west_midlands_sample_reaches_only_permitted_recipients(
    west_midlands_gateway, adapter, path
):
    check_sample(west_midlands_gateway, adapter, path, WEST_MIDLANDS[f"{adapter}/{path.name}"])


def check_sample(gateway, adapter: str, path, sender: str) -> None:
    with gateway.client(sender) as client:
        response = client.post(
            f"/v1/inbound/{adapter}",
            content=path.read_bytes(),
            headers={"Content-Type": _content_type(adapter, path.name)},
        )
    assert response.status_code == 202, response.text
    answer = response.json()
    accepted = (
        [r["exchange_id"] for r in answer["results"] if r["status"] == "accepted"]
        if "results" in answer
        else [answer["exchange_id"]]
    )
    assert accepted
    gateway.wait_drained()
    bundle = gateway.runtime.bundle
    for exchange_id in accepted:
        stored = gateway.store.get_exchange(exchange_id)
        envelope = stored["envelope"]
        if isinstance(envelope, str):
            envelope = json.loads(envelope)
        exchange = Exchange.model_validate(envelope)
        for decision in decide(bundle, exchange):
            topic = (
                f"{gateway.runtime.settings.topic_prefix}.v1.urgent.{decision.recipient}"
                if exchange.urgency != "routine"
                else gateway.topic(decision.recipient)
            )
            got = [
                m
                for m in read_topic(gateway.bootstrap, topic, exchange_id=exchange_id, expect=0)
                if m["headers"]["recipient"] == decision.recipient
            ]
            if not decision.permitted:
                assert got == [], f"{decision.recipient} was denied but received a copy"
                continue
            assert len(got) == 1, f"{decision.recipient} should receive exactly one copy"
            expected = minimise_for(decision, envelope, TEST_KEY.encode()).record
            assert got[0]["value"]["record"] == expected
