"""How every Kafka client the gateway builds connects: bootstrap servers, TLS, SASL.

The settings (``GATEWAY_KAFKA_*``) say it once; :func:`kafka_connection` turns them
into a :class:`KafkaConnection`, whose :meth:`~KafkaConnection.client_options` are
the keyword arguments of kafka-python's ``KafkaProducer``, ``KafkaConsumer`` and
``KafkaAdminClient`` alike. The producer of the relay, the admin client that
creates topics, the readiness probe and ``gateway messages`` all take one.

A combination that cannot work (SASL without a SASL protocol, a mechanism without
its credentials, a client certificate without its key, a password sent in clear)
is refused when the settings are read, with a message naming the settings, rather
than by a broker that silently drops the connection.

SASL mechanisms: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (username and password), and
OAUTHBEARER (kafka-python supports it with a token provider: here the OAuth 2.0
client-credentials grant at the identity provider's token endpoint).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from gateway.settings import Settings

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]
PASSWORD_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class KafkaConfigError(ValueError):
    """Kafka settings that cannot work together; the message names them."""


@dataclass(frozen=True)
class KafkaConnection:
    """Where the brokers are and how to talk to them (a plain bootstrap for the
    embedded broker and the tests)."""

    bootstrap: str
    #: Never in a repr: it holds the SASL password (a Runtime's repr shows its connection).
    options: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def client_options(self, **extra: Any) -> dict[str, Any]:
        """Keyword arguments for any kafka-python client: the bootstrap servers, the
        security options, then ``extra`` (the client's own: acks, client_id ...)."""
        return {"bootstrap_servers": self.bootstrap, **self.options, **extra}

    def __str__(self) -> str:  # logs and messages name the servers, never a secret
        return self.bootstrap


def as_connection(target: str | KafkaConnection) -> KafkaConnection:
    """A plain ``host:port,...`` string is a connection without TLS or SASL."""
    return target if isinstance(target, KafkaConnection) else KafkaConnection(target)


def check_kafka_settings(settings: Settings) -> None:
    """Refuse Kafka security settings that cannot work together (KafkaConfigError)."""
    _security_options(settings)


def kafka_connection(settings: Settings, bootstrap: str | None = None) -> KafkaConnection:
    """The connection the settings describe; ``bootstrap`` overrides the servers (the
    embedded broker's, which speaks plaintext on loopback only)."""
    if bootstrap is not None and settings.kafka_bootstrap is None:
        return KafkaConnection(bootstrap)
    servers = bootstrap or settings.kafka_bootstrap
    if servers is None:
        raise KafkaConfigError("GATEWAY_KAFKA_BOOTSTRAP is not set")
    return KafkaConnection(servers, _security_options(settings))


def _named(*names: str) -> str:
    return ", ".join(f"GATEWAY_{n.upper()}" for n in names)


def _security_options(settings: Settings) -> dict[str, Any]:
    s = settings
    protocol: SecurityProtocol = s.kafka_security_protocol
    tls = protocol in ("SSL", "SASL_SSL")
    sasl = protocol in ("SASL_PLAINTEXT", "SASL_SSL")
    configured_security = [
        name
        for name in (
            "kafka_ssl_ca_file",
            "kafka_ssl_cert_file",
            "kafka_ssl_key_file",
            "kafka_ssl_key_password",
            "kafka_sasl_mechanism",
            "kafka_sasl_username",
            "kafka_sasl_password",
            "kafka_oauth_token_url",
            "kafka_oauth_client_id",
            "kafka_oauth_client_secret",
            "kafka_oauth_scope",
        )
        if getattr(s, name) is not None
    ]
    if s.kafka_bootstrap is None and (protocol != "PLAINTEXT" or configured_security):
        raise KafkaConfigError(
            f"{_named('kafka_security_protocol', *configured_security)} apply to an external "
            "Kafka cluster: set GATEWAY_KAFKA_BOOTSTRAP too (the embedded broker speaks "
            "plaintext on loopback only)"
        )
    options: dict[str, Any] = {"security_protocol": protocol}

    ssl_files = [n for n in configured_security if n.startswith("kafka_ssl_")]
    if ssl_files and not tls:
        raise KafkaConfigError(
            f"{_named(*ssl_files)} need GATEWAY_KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL "
            f"(it is {protocol})"
        )
    if tls:
        if (s.kafka_ssl_cert_file is None) != (s.kafka_ssl_key_file is None):
            raise KafkaConfigError(
                "a client certificate needs its key: set both GATEWAY_KAFKA_SSL_CERT_FILE "
                "and GATEWAY_KAFKA_SSL_KEY_FILE, or neither"
            )
        if s.kafka_ssl_key_password is not None and s.kafka_ssl_key_file is None:
            raise KafkaConfigError(
                "GATEWAY_KAFKA_SSL_KEY_PASSWORD is set without GATEWAY_KAFKA_SSL_KEY_FILE"
            )
        options["ssl_check_hostname"] = s.kafka_ssl_check_hostname
        for setting, option in (
            ("kafka_ssl_ca_file", "ssl_cafile"),
            ("kafka_ssl_cert_file", "ssl_certfile"),
            ("kafka_ssl_key_file", "ssl_keyfile"),
        ):
            path: Path | None = getattr(s, setting)
            if path is not None:
                options[option] = str(path)
        if s.kafka_ssl_key_password is not None:
            options["ssl_password"] = s.kafka_ssl_key_password.get_secret_value()

    mechanism: SaslMechanism | None = s.kafka_sasl_mechanism
    sasl_settings = [
        n for n in configured_security if n.startswith(("kafka_sasl_", "kafka_oauth_"))
    ]
    if not sasl:
        if sasl_settings:
            raise KafkaConfigError(
                f"{_named(*sasl_settings)} need GATEWAY_KAFKA_SECURITY_PROTOCOL=SASL_SSL "
                f"(or SASL_PLAINTEXT; it is {protocol})"
            )
        return options
    if mechanism is None:
        raise KafkaConfigError(
            f"GATEWAY_KAFKA_SECURITY_PROTOCOL={protocol} needs GATEWAY_KAFKA_SASL_MECHANISM "
            f"({', '.join(PASSWORD_MECHANISMS)} or OAUTHBEARER)"
        )
    options["sasl_mechanism"] = mechanism
    if mechanism in PASSWORD_MECHANISMS:
        oauth = [n for n in sasl_settings if n.startswith("kafka_oauth_")]
        if oauth:
            raise KafkaConfigError(f"{_named(*oauth)} apply to OAUTHBEARER, not {mechanism}")
        missing = [
            n for n in ("kafka_sasl_username", "kafka_sasl_password") if getattr(s, n) is None
        ]
        if missing:
            raise KafkaConfigError(f"SASL {mechanism} needs {_named(*missing)}")
        if mechanism == "PLAIN" and not tls:
            raise KafkaConfigError(
                "SASL PLAIN over SASL_PLAINTEXT would send the password in clear: "
                "use GATEWAY_KAFKA_SECURITY_PROTOCOL=SASL_SSL, or SCRAM"
            )
        assert s.kafka_sasl_password is not None
        options["sasl_plain_username"] = s.kafka_sasl_username
        options["sasl_plain_password"] = s.kafka_sasl_password.get_secret_value()
        return options
    # OAUTHBEARER
    passwords = [n for n in ("kafka_sasl_username", "kafka_sasl_password") if n in sasl_settings]
    if passwords:
        raise KafkaConfigError(
            f"{_named(*passwords)} apply to PLAIN and SCRAM; OAUTHBEARER takes "
            "GATEWAY_KAFKA_OAUTH_TOKEN_URL, _CLIENT_ID and _CLIENT_SECRET"
        )
    missing = [
        n
        for n in ("kafka_oauth_token_url", "kafka_oauth_client_id", "kafka_oauth_client_secret")
        if getattr(s, n) is None
    ]
    if missing:
        raise KafkaConfigError(f"SASL OAUTHBEARER needs {_named(*missing)}")
    if not tls:
        raise KafkaConfigError(
            "SASL OAUTHBEARER over SASL_PLAINTEXT would send the bearer token in clear: "
            "use GATEWAY_KAFKA_SECURITY_PROTOCOL=SASL_SSL"
        )
    assert s.kafka_oauth_token_url is not None and s.kafka_oauth_client_id is not None
    assert s.kafka_oauth_client_secret is not None
    # Imported here: it subclasses kafka-python's provider, and reading the settings must
    # not import kafka-python (every CLI command reads them).
    from gateway.delivery.kafka_oauth import ClientCredentialsTokenProvider

    options["sasl_oauth_token_provider"] = ClientCredentialsTokenProvider(
        s.kafka_oauth_token_url,
        s.kafka_oauth_client_id,
        s.kafka_oauth_client_secret.get_secret_value(),
        s.kafka_oauth_scope,
    )
    return options
