"""Recipients that asked for their own format get it; when their format cannot
carry the record they get the canonical envelope, and the headers say which."""

from __future__ import annotations

import json

import pytest
import yaml
from fhir.resources.R4B.bundle import Bundle

from gateway.delivery.reader import read_topic
from tests.conftest import start_gateway

PARTNER = {"Content-Type": "application/json"}


@pytest.fixture
def formats_gateway(broker, store_url_factory, tmp_path):
    partners = tmp_path / "partners.yaml"
    partners.write_text(
        yaml.safe_dump(
            {
                "partners": {
                    "mersey-care-forensic": {"format": "fhir"},
                    "probation-spoc-north": {"format": "mappa"},  # cannot carry a crime record
                }
            }
        )
    )
    running, server, thread = start_gateway(
        "sqlite",
        store_url_factory("sqlite"),
        broker.bootstrap,
        tmp_path / "d",
        partners_file=partners,
    )
    yield running
    server.should_exit = True
    thread.join(timeout=10)
    running.runtime.stop()


def test_nhs_recipient_gets_a_valid_fhir_bundle(formats_gateway, police_sample):
    gateway = formats_gateway
    with gateway.client() as client:
        answer = client.post("/v1/inbound/police", content=police_sample, headers=PARTNER).json()
    effects = {d["recipient"]: d["effect"] for d in answer["decisions"]}
    assert effects["mersey-care-forensic"] == "permit"
    (message,) = read_topic(
        gateway.bootstrap,
        gateway.topic("mersey-care-forensic"),
        exchange_id=answer["exchange_id"],
        expect=1,
    )
    assert message["headers"]["content-type"] == "application/fhir+json"
    assert message["headers"]["isg-format"] == "fhir"
    assert message["headers"]["policy-version"] == answer["policy_version"]
    bundle = Bundle.model_validate(message["value"])  # validates against R4B again
    assert bundle.type == "collection"


def test_format_that_cannot_carry_the_record_falls_back_to_canonical(
    formats_gateway, police_sample
):
    gateway = formats_gateway
    with gateway.client() as client:
        answer = client.post("/v1/inbound/police", content=police_sample, headers=PARTNER).json()
    (message,) = read_topic(
        gateway.bootstrap,
        gateway.topic("probation-spoc-north"),
        exchange_id=answer["exchange_id"],
        expect=1,
    )
    assert message["headers"]["isg-format"] == "canonical"
    assert message["value"]["record"]["exchange_id"] == answer["exchange_id"]
    assert "summary" not in json.dumps(message["value"]["record"]["payload"]["crime"])


def test_unknown_format_in_partners_file_fails_the_start(broker, tmp_path):
    from gateway.errors import UnknownFormat

    partners = tmp_path / "partners.yaml"
    partners.write_text("partners:\n  mersey-care-forensic:\n    format: hl7v2\n")
    with pytest.raises(UnknownFormat):
        start_gateway(
            "sqlite",
            f"sqlite:///{tmp_path / 'x.db'}",
            broker.bootstrap,
            tmp_path,
            partners_file=partners,
        )
