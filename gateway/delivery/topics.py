"""The Kafka topic layout.

- ``<prefix>.v1.deliveries.<recipient>``: one topic per recipient, holding only
  what that recipient may see. Messages are keyed by a subject key so one
  person's records stay in order on one partition.
- ``<prefix>.v1.urgent.<recipient>``: one priority topic per recipient, for
  its urgent and immediate copies, so a consumer of urgent alerts never waits
  behind bulk traffic and never sees another recipient's alerts.
"""

from __future__ import annotations

import logging

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from gateway.delivery.kafka_config import KafkaConnection, as_connection
from gateway.embedded.broker import reachable

log = logging.getLogger(__name__)


def recipient_topic(prefix: str, recipient: str) -> str:
    return f"{prefix}.v1.deliveries.{recipient}"


def urgent_topic(prefix: str, recipient: str) -> str:
    """The recipient's own priority topic: no other recipient's alerts are on it."""
    return f"{prefix}.v1.urgent.{recipient}"


def ensure_topics(
    bootstrap: str | KafkaConnection, names: list[str], partitions: int = 3
) -> list[str]:
    """Create missing topics; return the ones created. OSError when no broker answers
    (checked first: the Kafka client itself would retry for half a minute)."""
    if not reachable(bootstrap, timeout=2.0):
        raise OSError(f"no broker answers at {bootstrap}")
    admin = KafkaAdminClient(
        **as_connection(bootstrap).client_options(client_id="isg-gateway-admin")
    )
    try:
        existing = set(admin.list_topics())
        missing = sorted(set(names) - existing)
        created = []
        for name in missing:
            try:
                admin.create_topics(
                    [NewTopic(name=name, num_partitions=partitions, replication_factor=1)]
                )
                created.append(name)
            except TopicAlreadyExistsError:
                pass
        if created:
            log.info("created topics: %s", ", ".join(created))
        return created
    finally:
        admin.close()
