"""Reading what the gateway published, with a plain Kafka consumer."""

from __future__ import annotations

import json
import time
from typing import Any

from kafka import KafkaConsumer, TopicPartition


def read_topic(
    bootstrap: str,
    topic: str,
    *,
    exchange_id: str | None = None,
    expect: int | None = None,
    timeout: float = 10.0,
) -> list[dict[str, Any]]:
    """Every message on ``topic`` (optionally only one exchange's), as dicts.

    Waits until ``expect`` messages are seen or ``timeout`` passes. With
    ``expect=0`` it reads up to the current end of the topic and stops, so the
    caller must first let the relay drain (``RunningGateway.wait_drained``).
    """
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=500
    )
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        assigned = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        found: list[dict[str, Any]] = []
        end = consumer.end_offsets(assigned) if assigned else {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if expect == 0 and all(consumer.position(tp) >= end[tp] for tp in assigned):
                break
            batch = consumer.poll(timeout_ms=300)
            for records in batch.values():
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
