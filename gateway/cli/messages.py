"""``gateway messages``: what a recipient received on Kafka, one JSON message per line."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli.common import DataDir, fail, settings_for
from gateway.errors import UnknownTopic


def messages(
    recipient: Annotated[str, typer.Argument(help="The recipient whose topic to read.")],
    data_dir: DataDir = None,
    urgent: Annotated[
        bool, typer.Option(help="Read the recipient's urgent topic instead.")
    ] = False,
    wait: Annotated[float, typer.Option(help="Seconds to wait for messages.")] = 3.0,
) -> None:
    """Print what a recipient received on Kafka (one JSON message per line)."""
    import json

    from kafka.errors import KafkaError

    from gateway.delivery.kafka_config import KafkaConnection, kafka_connection
    from gateway.delivery.reader import read_topic
    from gateway.delivery.topics import recipient_topic, urgent_topic
    from gateway.runtime import RUNTIME_FILE

    settings = settings_for(data_dir)
    prefix = settings.topic_prefix
    info_file = settings.data_dir / RUNTIME_FILE
    bootstrap: KafkaConnection
    if settings.kafka_bootstrap is not None:
        bootstrap = kafka_connection(settings)  # over TLS and SASL as configured
    else:
        if not info_file.exists():
            raise fail(f"no running gateway found in {settings.data_dir.resolve()}")
        info = json.loads(info_file.read_text(encoding="utf-8"))
        bootstrap, prefix = KafkaConnection(info["kafka_bootstrap"]), info["topic_prefix"]
    topic = urgent_topic(prefix, recipient) if urgent else recipient_topic(prefix, recipient)
    try:
        found = read_topic(bootstrap, topic, timeout=wait)
    except UnknownTopic as exc:
        raise fail(str(exc)) from None
    except KafkaError as exc:
        raise fail(f"cannot reach the broker at {bootstrap}: {exc}") from None
    for message in found:
        typer.echo(json.dumps(message, sort_keys=True))
