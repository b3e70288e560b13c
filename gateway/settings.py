"""The gateway's one settings object, read from ``GATEWAY_*`` environment variables.

Unknown ``GATEWAY_*`` variables are errors, so a typo is caught at start-up
rather than silently ignored. Secrets are ``SecretStr`` and never printed.
With nothing configured the gateway runs the *embedded default*: a SQLite
store under ``data_dir`` and a Kafka-protocol broker started as a child process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.delivery.kafka_config import SaslMechanism, SecurityProtocol
from gateway.notify.config import notify_variable_names

PREFIX = "GATEWAY_"


@dataclass(frozen=True)
class RetentionPolicy:
    """How long each kind of row is kept after it stopped being needed."""

    sent_copies: timedelta
    idempotency_keys: timedelta
    #: A received record's contents, from the agreement (``agreement.retention``);
    #: None: kept until erased by hand.
    exchanges: timedelta | None = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="forbid", validate_default=True)

    data_dir: Path = Field(
        default=Path(".gateway-data"),
        description="Where the embedded default keeps its SQLite store and broker logs.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the store, e.g. postgresql+psycopg://host/db. "
        "Unset: SQLite in data_dir.",
    )
    kafka_bootstrap: str | None = Field(
        default=None,
        description="Kafka bootstrap servers (host:port,...). Unset: start the embedded broker.",
    )
    topic_prefix: str = Field(
        default="isg", pattern=r"^[A-Za-z0-9._-]+$", description="Prefix of every Kafka topic."
    )

    # -- Kafka over TLS and SASL (gateway/delivery/kafka_config.py) -----------------
    kafka_security_protocol: SecurityProtocol = Field(
        default="PLAINTEXT",
        description="How the gateway talks to the Kafka cluster: PLAINTEXT, SSL, "
        "SASL_PLAINTEXT or SASL_SSL (TLS with SASL, for production).",
    )
    kafka_ssl_ca_file: Path | None = Field(
        default=None,
        description="PEM file of the CA that signed the brokers' certificates. Unset: "
        "the system's trusted CAs.",
    )
    kafka_ssl_cert_file: Path | None = Field(
        default=None, description="The gateway's client certificate (PEM), for mutual TLS."
    )
    kafka_ssl_key_file: Path | None = Field(
        default=None, description="The client certificate's private key (PEM)."
    )
    kafka_ssl_key_password: SecretStr | None = Field(
        default=None, description="The password of kafka_ssl_key_file, if it has one."
    )
    kafka_ssl_check_hostname: bool = Field(
        default=True, description="Check that a broker's certificate names the broker."
    )
    kafka_sasl_mechanism: SaslMechanism | None = Field(
        default=None,
        description="SASL mechanism: SCRAM-SHA-512, SCRAM-SHA-256, PLAIN (only over TLS) "
        "or OAUTHBEARER. Required with a SASL_* protocol.",
    )
    kafka_sasl_username: str | None = Field(
        default=None, description="The gateway's Kafka user (PLAIN and SCRAM)."
    )
    kafka_sasl_password: SecretStr | None = Field(
        default=None, description="Its password (PLAIN and SCRAM)."
    )
    kafka_oauth_token_url: str | None = Field(
        default=None,
        description="OAUTHBEARER: the identity provider's token endpoint (client "
        "credentials grant).",
    )
    kafka_oauth_client_id: str | None = Field(
        default=None, description="OAUTHBEARER: the gateway's client id there."
    )
    kafka_oauth_client_secret: SecretStr | None = Field(
        default=None, description="OAUTHBEARER: the gateway's client secret there."
    )
    kafka_oauth_scope: str | None = Field(
        default=None, description="OAUTHBEARER: the scope to ask for, if the provider needs one."
    )

    # -- PostgreSQL over TLS -----------------------------------------------------
    database_ssl_mode: (
        Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] | None
    ) = Field(
        default=None,
        description="libpq's sslmode for PostgreSQL; verify-full in production. Unset: "
        "as database_url says (libpq's default, prefer).",
    )
    database_ssl_root_cert_file: Path | None = Field(
        default=None,
        description="PEM file of the CA that signed the server's certificate (required "
        "with verify-ca and verify-full).",
    )
    database_ssl_cert_file: Path | None = Field(
        default=None, description="Client certificate (PEM) for certificate authentication."
    )
    database_ssl_key_file: Path | None = Field(
        default=None, description="The client certificate's private key (PEM, mode 0600)."
    )
    policy_dir: Path = Field(
        default=Path("policies/cheshire-hru"), description="The policy bundle in force."
    )
    pseudonym_key: SecretStr | None = Field(
        default=None,
        description="HMAC key for per-recipient pseudonyms. Required outside the embedded "
        "default; unset there, a random key made on first run in data_dir/pseudonym.key.",
    )
    linking_key: SecretStr | None = Field(
        default=None,
        description="The data custodian's HMAC key for linking one person across agencies "
        "(gateway linking, gateway evaluation); not the pseudonym key. Unset on the "
        "embedded default: a random key made on first run in data_dir/linking.key; unset "
        "elsewhere: records are not linked and no evaluation export can be made.",
    )
    partners_file: Path | None = Field(
        default=None,
        description="Partner delivery settings (webhooks). Unset: Kafka topics only.",
    )
    relay_workers: int | None = Field(
        default=None,
        ge=1,
        le=32,
        description="Relay worker threads per delivery channel. Unset: each channel's own "
        "(Kafka 1: one worker fills bigger batches; webhooks 2: a peer being retried "
        "holds a worker).",
    )
    relay_poll_seconds: float = Field(
        default=0.5, gt=0, description="How often the outbox relay looks for work when idle."
    )
    policy_check_seconds: float = Field(
        default=2.0, gt=0, description="How often the policy directory is checked for changes."
    )
    trace_sample_ratio: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Share of the traces the gateway starts that are recorded (a caller's "
        "sampled traceparent is always followed; trace ids are always propagated). "
        "OTEL_TRACES_SAMPLER, where set, decides instead.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", description="The least severe log lines written."
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Log lines as text, or as JSON objects (one a line) with the trace "
        "and span ids, for a log collector.",
    )
    relay_metrics_host: str = Field(
        default="127.0.0.1",
        description="Where `gateway relay` serves its Prometheus metrics (0.0.0.0 for a "
        "scraper on another host, e.g. in a pod).",
    )
    relay_metrics_port: int = Field(
        default=9181,
        ge=0,
        le=65535,
        description="The port of `gateway relay`'s metrics (/metrics); 0: not served.",
    )
    store_busy_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How long an API process keeps a request waiting for a SQLite store "
        "another writer holds before answering 503.",
    )
    max_body_bytes: int = Field(
        default=5 * 1024 * 1024, gt=0, description="Largest request body accepted."
    )
    outbox_retention_days: float = Field(
        default=7.0,
        gt=0,
        description="How long a sent copy stays in the outbox: a broker that lost its data "
        "is re-fed from these. Then it is erased (and the erasure audited).",
    )
    idempotency_retention_days: float = Field(
        default=7.0,
        gt=0,
        description="How long an Idempotency-Key and its answer are kept; after that the "
        "same key starts a new submission.",
    )
    retention_check_seconds: float = Field(
        default=3600.0, gt=0, description="How often the relay erases rows past retention."
    )
    escalation_check_seconds: float = Field(
        # Half a second keeps a passed deadline's notification under 2 s at p99
        # (bench/bench_escalation.py); the check is one indexed query.
        default=0.5,
        gt=0,
        description="How often a relaying process looks for acknowledgement deadlines "
        "that have passed, and escalates them.",
    )

    # -- the audit trail's signed checkpoints (gateway/audit/, docs/audit.md) ---------
    audit_signing_keys: SecretStr | None = Field(
        default=None,
        description="Ed25519 private key(s) that sign the audit trail's checkpoints: PEM, "
        "or 32 raw bytes in base64 or hex; several (comma or new line separated) while "
        "rotating, the first signing. Unset: a key made on first run in "
        "data_dir/keys/audit-signing.key (0600).",
    )
    audit_retired_keys: list[str] = Field(
        default_factory=list,
        description="Public keys (base64 raw or PEM, as a JSON list) of audit signing keys "
        "no longer held, whose checkpoints must still verify.",
    )
    audit_checkpoint_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How often a relaying process signs a checkpoint of the audit trail "
        "(when entries were appended since the last).",
    )

    # -- partner systems' credentials (gateway/identity/) --------------------------
    clients_file: Path | None = Field(
        default=None,
        description="The registered partner systems (clients.yaml). Unset with the embedded "
        "SQLite store: a sample client per party in data_dir; required with a database_url.",
    )
    token_issuer: str = Field(
        default="urn:isg-gateway",
        description="The iss of the access tokens the gateway signs.",
    )
    token_audience: str = Field(
        default="isg-gateway-api", description="The aud the gateway's API accepts."
    )
    access_token_seconds: int = Field(
        default=300, ge=30, le=3600, description="How long an access token lives."
    )
    token_signing_keys_file: Path | None = Field(
        default=None,
        description="Where the token-signing keys are kept (created 0600 if missing). "
        "Unset: data_dir/keys/token-signing.json.",
    )
    token_key_rotation_days: float = Field(
        default=30.0, gt=0, description="A new token-signing key after this many days."
    )
    token_signing_keys_read_only: bool = Field(
        default=False,
        description="The token-signing keys file is kept outside the gateway (a Kubernetes "
        "Secret shared by every pod): read it, follow its changes, never write or rotate it.",
    )
    external_token_jwks_url: str | None = Field(
        default=None,
        description="Accept access tokens from the partnership's identity provider instead, "
        "checked against this JWKS URL (with external_token_issuer and token_audience).",
    )
    external_token_issuer: str | None = Field(
        default=None, description="The iss of the identity provider's access tokens."
    )
    rate_limit_per_client: str = Field(
        default="200/second",
        description="Requests a partner system may make, per API process (limits syntax: "
        "'200/second', '5000/minute'); over it the answer is 429 with Retry-After.",
    )
    rate_limit_per_address: str = Field(
        default="20/second",
        description="Requests from one address not yet authenticated (the token endpoint, "
        "failed credentials), per API process.",
    )
    header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="A connection that has not sent a request's headers within this is "
        "closed (slow-header clients).",
    )
    api_docs: bool = Field(
        default=True,
        description="Serve the API's documentation (/docs, /redoc, /openapi.json).",
    )
    public_operations: bool = Field(
        default=False,
        description="Serve /metrics and the detail of /readyz without credentials "
        "(otherwise: loopback callers only, or a token).",
    )

    # -- people's sign-in, OpenID Connect (gateway/api/sign_in.py) ----------------
    oidc_issuer: str | None = Field(
        default=None,
        description="The partnership identity provider's issuer, exactly as its discovery "
        "document (ISSUER/.well-known/openid-configuration) names it. Unset: people's "
        "sign-in is disabled.",
    )
    oidc_client_id: str | None = Field(
        default=None, description="The gateway's client id at the identity provider."
    )
    oidc_client_secret: SecretStr | None = Field(
        default=None,
        description="The gateway's client secret there. Unset: a public client (PKCE only).",
    )
    oidc_roles_claim: str = Field(
        default="roles",
        min_length=1,
        description="The ID token claim whose values (a list, or one string) name roles.",
    )
    oidc_role_map: dict[str, str] = Field(
        default_factory=dict,
        description="The identity provider's role values -> the gateway's roles (spoc, "
        "duty, governance, auditor, dpo), as JSON. A value not named gives no role.",
    )
    session_secret: SecretStr | None = Field(
        default=None,
        description="Signs the session cookie (32 characters at least). Unset on the "
        "embedded default: a random one kept in data_dir/keys/session-secret (0600); "
        "required elsewhere once oidc_issuer is set.",
    )
    session_max_age_seconds: int = Field(
        default=8 * 3600,
        gt=0,
        description="How long a person stays signed in, however active.",
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_capitals(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("rate_limit_per_client", "rate_limit_per_address")
    @classmethod
    def _a_rate(cls, value: str) -> str:
        from limits import parse

        parse(value)  # ValueError names what it could not read
        return value

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        if not value.startswith(("sqlite", "postgresql+psycopg://")):
            raise ValueError("database_url must be sqlite:///... or postgresql+psycopg://...")
        return value

    @model_validator(mode="after")
    def _connections_that_can_work(self) -> Settings:
        from gateway.delivery.kafka_config import check_kafka_settings

        check_kafka_settings(self)  # KafkaConfigError (a ValueError) names the settings
        self._database_tls_options()
        return self

    def _database_tls_options(self) -> dict[str, str]:
        """libpq's TLS parameters the settings add to the store's URL."""
        wanted = {
            "sslmode": self.database_ssl_mode,
            "sslrootcert": self.database_ssl_root_cert_file,
            "sslcert": self.database_ssl_cert_file,
            "sslkey": self.database_ssl_key_file,
        }
        given = {k: str(v) for k, v in wanted.items() if v is not None}
        if not given:
            return {}
        if self.database_url is None or not self.database_url.startswith("postgresql"):
            raise ValueError(
                "GATEWAY_DATABASE_SSL_* apply to PostgreSQL: set GATEWAY_DATABASE_URL to "
                "postgresql+psycopg://..."
            )
        if (self.database_ssl_cert_file is None) != (self.database_ssl_key_file is None):
            raise ValueError(
                "a client certificate needs its key: set both GATEWAY_DATABASE_SSL_CERT_FILE "
                "and GATEWAY_DATABASE_SSL_KEY_FILE, or neither"
            )
        if self.database_ssl_mode == "disable" and len(given) > 1:
            raise ValueError("GATEWAY_DATABASE_SSL_MODE=disable with certificate files set")
        if (
            self.database_ssl_mode in ("verify-ca", "verify-full")
            and self.database_ssl_root_cert_file is None
        ):
            raise ValueError(
                f"GATEWAY_DATABASE_SSL_MODE={self.database_ssl_mode} needs "
                "GATEWAY_DATABASE_SSL_ROOT_CERT_FILE (the CA that signed the server's "
                "certificate)"
            )
        from sqlalchemy.engine import make_url

        in_url = make_url(self.database_url).query
        for key, value in given.items():
            if key in in_url and in_url[key] != value:
                raise ValueError(
                    f"GATEWAY_DATABASE_URL says {key}={in_url[key]} but the "
                    f"GATEWAY_DATABASE_SSL_* settings say {value}: keep one"
                )
        return given

    def require_production_secrets(self) -> None:
        """Refuse to run without a pseudonymisation key of its own anywhere but the
        embedded default (which makes one per data directory).

        Checked when the gateway starts serving, not when a tool such as
        ``gateway audit verify`` merely reads the store.
        """
        if not self.embedded and not self.pseudonym_key_bytes():
            raise ValueError(
                "GATEWAY_PSEUDONYM_KEY must be set when an external database or broker is used"
            )

    def pseudonym_key_bytes(self) -> bytes | None:
        """The configured pseudonymisation key; None when unset (or set empty)."""
        key = self.pseudonym_key.get_secret_value() if self.pseudonym_key else ""
        return key.encode() or None

    def linking_key_bytes(self) -> bytes | None:
        """The configured linking key; None when unset (or set empty)."""
        key = self.linking_key.get_secret_value() if self.linking_key else ""
        return key.encode() or None

    @property
    def retention(self) -> RetentionPolicy:
        return RetentionPolicy(
            sent_copies=timedelta(days=self.outbox_retention_days),
            idempotency_keys=timedelta(days=self.idempotency_retention_days),
        )

    @property
    def embedded(self) -> bool:
        return self.database_url is None and self.kafka_bootstrap is None

    @property
    def external(self) -> bool:
        """Both the store and the broker are outside this process, so several
        processes can share them (``serve --workers``, ``gateway relay``)."""
        return self.database_url is not None and self.kafka_bootstrap is not None

    @property
    def store_url(self) -> str:
        """The store's SQLAlchemy URL, with the PostgreSQL TLS settings in its query."""
        if self.database_url is None:
            return f"sqlite:///{(self.data_dir / 'gateway.db').resolve()}"
        tls = self._database_tls_options()
        if not tls:
            return self.database_url
        from sqlalchemy.engine import make_url

        url = make_url(self.database_url).update_query_dict(tls)
        return url.render_as_string(hide_password=False)


def unknown_gateway_variables() -> list[str]:
    """``GATEWAY_*`` variables in the environment that no setting reads."""
    # Notifications have settings of their own (GATEWAY_NOTIFY_*, gateway/notify/config.py).
    known = {PREFIX + name.upper() for name in Settings.model_fields} | notify_variable_names()
    return sorted(k for k in os.environ if k.startswith(PREFIX) and k not in known)


def load_settings(**overrides: object) -> Settings:
    unknown = unknown_gateway_variables()
    if unknown:
        raise ValueError(f"unknown settings in the environment: {', '.join(unknown)}")
    return Settings(**overrides)  # type: ignore[arg-type]
