"""Reading a topic back from the beginning: for ``gateway messages`` and the tests."""

from __future__ import annotations

import json
import time
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from gateway.delivery.kafka_config import KafkaConnection, as_connection
from gateway.errors import UnknownTopic


def read_topic(
    bootstrap: str | KafkaConnection,
    topic: str,
    *,
    exchange_id: str | None = None,
    expect: int | None = None,
    timeout: float = 10.0,
) -> list[dict[str, Any]]:
    """Every message on ``topic`` (only ``exchange_id``'s, if given), as dicts.

    Stops once ``expect`` messages are found; without ``expect`` (or with 0),
    once it has read up to where the topic ended when reading began, so a
    caller expecting nothing must first let the relay drain; and in any case
    after ``timeout`` seconds. A topic that does not exist is ``UnknownTopic``.
    """
    consumer = KafkaConsumer(**as_connection(bootstrap).client_options(enable_auto_commit=False))
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            raise UnknownTopic(f"no topic {topic}")
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not expect and all(consumer.position(p) >= end[p] for p in partitions):
                break
            for records in consumer.poll(timeout_ms=200).values():
                for record in records:
                    headers = {k: v.decode() for k, v in record.headers}
                    if exchange_id and headers.get("exchange-id") != exchange_id:
                        continue
                    found.append(
                        {
                            "key": record.key.decode() if record.key else None,
                            "headers": headers,
                            "value": json.loads(record.value),
                            "partition": record.partition,
                            "offset": record.offset,
                        }
                    )
            if expect and len(found) >= expect:
                break
        return found
    finally:
        consumer.close()
