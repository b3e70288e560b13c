"""Kafka over TLS and SASL: the settings become the options of every kafka-python
client the gateway builds, and combinations that cannot work are refused by name.

No TLS or SASL broker runs here, so the options are checked against each client's
own configuration keys, and on the wire: every call site opens its connection with
a TLS handshake when the settings say SSL.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from pydantic import ValidationError
from typer.testing import CliRunner

from gateway.cli import app
from gateway.delivery.channels import make_producer
from gateway.delivery.kafka_config import KafkaConnection, kafka_connection
from gateway.delivery.kafka_oauth import ClientCredentialsTokenProvider
from gateway.delivery.reader import read_topic
from gateway.delivery.topics import ensure_topics
from gateway.embedded.broker import broker_answers
from gateway.settings import Settings

BOOTSTRAP = "kafka-0.kafka:9093,kafka-1.kafka:9093"
CLIENT_KEYS = [
    set(KafkaProducer.DEFAULT_CONFIG),
    set(KafkaConsumer.DEFAULT_CONFIG),
    set(KafkaAdminClient.DEFAULT_CONFIG),
]


def _settings(**values: Any) -> Settings:
    return Settings(kafka_bootstrap=BOOTSTRAP, **values)


def test_plaintext_by_default():
    options = kafka_connection(_settings()).client_options()
    assert options == {"bootstrap_servers": BOOTSTRAP, "security_protocol": "PLAINTEXT"}


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"])
def test_sasl_ssl_with_a_password_mechanism(mechanism, tmp_path):
    connection = kafka_connection(
        _settings(
            kafka_security_protocol="SASL_SSL",
            kafka_ssl_ca_file=tmp_path / "ca.crt",
            kafka_sasl_mechanism=mechanism,
            kafka_sasl_username="isg-gateway",
            kafka_sasl_password="s3cret",
        )
    )
    options = connection.client_options(client_id="x")
    assert options == {
        "bootstrap_servers": BOOTSTRAP,
        "security_protocol": "SASL_SSL",
        "ssl_check_hostname": True,
        "ssl_cafile": str(tmp_path / "ca.crt"),
        "sasl_mechanism": mechanism,
        "sasl_plain_username": "isg-gateway",
        "sasl_plain_password": "s3cret",
        "client_id": "x",
    }
    for keys in CLIENT_KEYS:  # every option is one the producer, consumer and admin know
        assert set(options) <= keys
    assert "s3cret" not in str(connection) and "s3cret" not in repr(connection)


def test_mutual_tls_with_a_client_certificate(tmp_path):
    options = kafka_connection(
        _settings(
            kafka_security_protocol="SSL",
            kafka_ssl_ca_file=tmp_path / "ca.crt",
            kafka_ssl_cert_file=tmp_path / "tls.crt",
            kafka_ssl_key_file=tmp_path / "tls.key",
            kafka_ssl_key_password="pw",
            kafka_ssl_check_hostname=False,
        )
    ).client_options()
    assert options["security_protocol"] == "SSL"
    assert options["ssl_certfile"] == str(tmp_path / "tls.crt")
    assert options["ssl_keyfile"] == str(tmp_path / "tls.key")
    assert options["ssl_password"] == "pw"
    assert options["ssl_check_hostname"] is False
    assert "sasl_mechanism" not in options
    for keys in CLIENT_KEYS:
        assert set(options) <= keys


class _TokenEndpoint(BaseHTTPRequestHandler):
    issued: list[dict[str, str]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        form = dict(p.split("=", 1) for p in self.rfile.read(length).decode().split("&"))
        self.issued.append({"authorization": self.headers["Authorization"], **form})
        body = json.dumps(
            {"access_token": f"token-{len(self.issued)}", "expires_in": 3600}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def token_endpoint() -> Iterator[str]:
    _TokenEndpoint.issued = []
    server = HTTPServer(("127.0.0.1", 0), _TokenEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/oauth2/token"
    server.shutdown()
    server.server_close()


def test_oauthbearer_fetches_a_client_credentials_token_once(token_endpoint):
    options = kafka_connection(
        _settings(
            kafka_security_protocol="SASL_SSL",
            kafka_sasl_mechanism="OAUTHBEARER",
            kafka_oauth_token_url=token_endpoint,
            kafka_oauth_client_id="isg-gateway",
            kafka_oauth_client_secret="client-secret",
            kafka_oauth_scope="kafka",
        )
    ).client_options()
    assert options["sasl_mechanism"] == "OAUTHBEARER"
    provider = options["sasl_oauth_token_provider"]
    assert isinstance(provider, ClientCredentialsTokenProvider)
    for keys in CLIENT_KEYS:
        assert set(options) <= keys
    assert provider.token() == "token-1"
    assert provider.token() == "token-1"  # kept until shortly before it expires
    (request,) = _TokenEndpoint.issued
    assert request["grant_type"] == "client_credentials"
    assert request["scope"] == "kafka"
    assert request["authorization"].startswith("Basic ")
    assert "client-secret" not in repr(provider)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"kafka_sasl_mechanism": "SCRAM-SHA-512"},
            "need GATEWAY_KAFKA_SECURITY_PROTOCOL=SASL_SSL",
        ),
        ({"kafka_security_protocol": "SASL_SSL"}, "needs GATEWAY_KAFKA_SASL_MECHANISM"),
        (
            {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "SCRAM-SHA-256"},
            "SASL SCRAM-SHA-256 needs GATEWAY_KAFKA_SASL_USERNAME, GATEWAY_KAFKA_SASL_PASSWORD",
        ),
        (
            {
                "kafka_security_protocol": "SASL_PLAINTEXT",
                "kafka_sasl_mechanism": "PLAIN",
                "kafka_sasl_username": "u",
                "kafka_sasl_password": "p",
            },
            "would send the password in clear",
        ),
        (
            {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "OAUTHBEARER"},
            "SASL OAUTHBEARER needs GATEWAY_KAFKA_OAUTH_TOKEN_URL",
        ),
        (
            {
                "kafka_security_protocol": "SASL_SSL",
                "kafka_sasl_mechanism": "OAUTHBEARER",
                "kafka_sasl_username": "u",
            },
            "apply to PLAIN and SCRAM",
        ),
        (
            {"kafka_ssl_ca_file": "/etc/ca.crt"},
            "GATEWAY_KAFKA_SSL_CA_FILE need GATEWAY_KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL",
        ),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_cert_file": "/etc/tls.crt"},
            "a client certificate needs its key",
        ),
        ({"kafka_security_protocol": "TLS"}, "kafka_security_protocol"),
        ({"kafka_sasl_mechanism": "GSSAPI"}, "kafka_sasl_mechanism"),
    ],
)
def test_a_combination_that_cannot_work_is_refused_by_name(values, message):
    with pytest.raises(ValidationError) as refused:
        _settings(**values)
    assert message in str(refused.value)


def test_security_settings_without_an_external_broker_are_refused():
    with pytest.raises(ValidationError, match="set GATEWAY_KAFKA_BOOTSTRAP too"):
        Settings(kafka_security_protocol="SSL")


def test_the_cli_refuses_a_bad_combination_with_a_plain_message(tmp_path, monkeypatch):
    for key in list(os.environ):
        if key.startswith("GATEWAY_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("GATEWAY_KAFKA_BOOTSTRAP", BOOTSTRAP)
    monkeypatch.setenv("GATEWAY_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("GATEWAY_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    result = CliRunner().invoke(app, ["relay", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "invalid settings" in result.output
    assert "SASL SCRAM-SHA-512 needs GATEWAY_KAFKA_SASL_USERNAME" in result.output


class _FirstBytes:
    """A loopback listener that keeps the first bytes of each connection: a TLS
    ClientHello starts 0x16 0x03, a plaintext Kafka request with its length."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.seen: list[bytes] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.listener.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            conn.settimeout(5)
            try:
                if first := conn.recv(2):  # a bare TCP check (reachable()) sends nothing
                    self.seen.append(first)
            except OSError:
                pass
            finally:
                conn.close()

    def first(self, timeout: float = 10.0) -> bytes:
        deadline = time.monotonic() + timeout
        while not self.seen:
            assert time.monotonic() < deadline, "no client connected"
            time.sleep(0.05)
        return self.seen[0]

    def close(self) -> None:
        self.listener.close()


CALL_SITES: dict[str, Callable[[KafkaConnection], object]] = {
    "relay producer": lambda c: make_producer(c),
    "topic admin": lambda c: ensure_topics(c, ["isg.v1.deliveries.x"]),
    "readiness probe": lambda c: broker_answers(c, timeout=5.0),
    "topic reader": lambda c: read_topic(c, "isg.v1.deliveries.x", timeout=1.0),
}


@pytest.mark.parametrize("site", CALL_SITES)
def test_every_client_the_gateway_builds_speaks_tls_when_told(site, tmp_path):
    listener = _FirstBytes()
    try:
        connection = _briefly(
            kafka_connection(
                Settings(kafka_bootstrap=listener.bootstrap, kafka_security_protocol="SSL")
            )
        )
        # The client retries against a listener that never answers: leave it to time out.
        threading.Thread(target=_swallow, args=(CALL_SITES[site], connection), daemon=True).start()
        assert listener.first()[:1] == b"\x16", f"{site} did not start a TLS handshake"
    finally:
        listener.close()


def test_a_plaintext_connection_sends_kafka_requests_as_they_are():
    """The control for the test above: without TLS the first bytes are a request's length."""
    listener = _FirstBytes()
    try:
        connection = _briefly(kafka_connection(Settings(kafka_bootstrap=listener.bootstrap)))
        threading.Thread(target=_swallow, args=(make_producer, connection), daemon=True).start()
        assert listener.first()[:1] == b"\x00"
    finally:
        listener.close()


def _briefly(connection: KafkaConnection) -> KafkaConnection:
    """The same connection, giving up bootstrapping after two seconds (not thirty)."""
    return KafkaConnection(
        connection.bootstrap, {**connection.options, "bootstrap_timeout_ms": 2000}
    )


def _swallow(call: Callable[[KafkaConnection], object], connection: KafkaConnection) -> None:
    with contextlib.suppress(Exception):  # it gives up once bootstrapping times out
        call(connection)


def test_the_readme_of_this_module_names_every_setting_it_reads():
    """docs/operations.md lists every GATEWAY_KAFKA_* and GATEWAY_DATABASE_SSL_* setting."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    names = [
        f"GATEWAY_{n.upper()}"
        for n in Settings.model_fields
        if n.startswith(("kafka_", "database_ssl_"))
    ]
    assert [n for n in names if n not in text] == []
