"""An independent Kafka client (kcat) reads a delivered message: only the allowed fields."""

from __future__ import annotations

import json

from gateway.delivery.reader import read_topic
from tests.kcat import kcat

PARTNER = {"Content-Type": "application/json"}


def test_kcat_sees_only_allowed_fields(gateway, police_sample, tmp_path):
    with gateway.client() as client:
        exchange_id = client.post(
            "/v1/inbound/police", content=police_sample, headers=PARTNER
        ).json()["exchange_id"]
    topic = gateway.topic("probation-spoc-north")
    read_topic(gateway.bootstrap, topic, exchange_id=exchange_id, expect=1)  # published

    result = kcat(
        [
            "-C",
            "-b",
            gateway.bootstrap,
            "-t",
            topic,
            "-o",
            "beginning",
            "-e",
            "-q",
            "-f",
            "%h\t%s\n",
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if f"exchange-id={exchange_id}" in line]
    assert len(lines) == 1, result.stdout[-2000:]
    headers, value = lines[0].split("\t", 1)
    message = json.loads(value)
    record = message["record"]
    assert record["exchange_id"] == exchange_id
    assert record["payload"]["crime"]["offence"]["code"] == "8Q"
    assert "summary" not in record["payload"]["crime"]
    assert all("address" not in s and "date_of_birth" not in s for s in record["subjects"])
    assert f"delivery-id={message['delivery_id']}" in headers
