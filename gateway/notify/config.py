"""Settings of the notifications that tell a person an urgent alert waits for them.

Read from ``GATEWAY_NOTIFY_*`` variables. Nothing configured means notifications are
off; a half-configured channel is an error at start-up, never a silent gap found the
night an alert waits.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

NOTIFY_PREFIX = "GATEWAY_NOTIFY_"
NOTIFY_API_URL = "https://api.notifications.service.gov.uk"
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# Notify's API keys are "<key name>-<service id>-<secret>", both UUIDs.
_API_KEY = re.compile(rf"^.+-{_UUID}-{_UUID}$")
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def _https_or_loopback(url: str, what: str) -> str:
    """Links and API calls leave the host, so only https (plain http on loopback,
    where the tests and a local relay run)."""
    parts = urlsplit(url)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise ValueError(f"{what} must be an https URL")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise ValueError(f"{what} must be https (plain http only on loopback)")
    if parts.query or parts.fragment:
        raise ValueError(f"{what} takes no query or fragment")
    return url.rstrip("/")


class NotifySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=NOTIFY_PREFIX, extra="forbid")

    public_base_url: str | None = Field(
        default=None,
        description="The gateway's address as people reach it; links are "
        "<public_base_url>/inbox/<item id>.",
    )
    # Secure email (the criminal-justice and NHS secure email services) over SMTP.
    smtp_host: str | None = Field(default=None, description="SMTP relay. Unset: no secure email.")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = Field(default=True, description="Upgrade with STARTTLS (required).")
    smtp_ca_file: Path | None = Field(
        default=None, description="CA bundle for the relay's certificate. Unset: the system's."
    )
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str | None = Field(default=None, description="The From address of the emails.")
    # GOV.UK Notify.
    api_key: SecretStr | None = Field(default=None, description="GOV.UK Notify API key.")
    base_url: str = Field(default=NOTIFY_API_URL, description="GOV.UK Notify's API.")
    email_template_id: str | None = Field(default=None, pattern=rf"^{_UUID}$")
    sms_template_id: str | None = Field(default=None, pattern=rf"^{_UUID}$")
    # Both.
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    attempts: int = Field(default=3, ge=1, le=10, description="Tries per message, first included.")

    @field_validator("public_base_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        return None if value is None else _https_or_loopback(value, "public_base_url")

    @field_validator("base_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        return _https_or_loopback(value, "base_url")

    @field_validator("smtp_from")
    @classmethod
    def _from_address(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+", value):
            raise ValueError("smtp_from must be a bare address, user@domain")
        return value

    @field_validator("api_key")
    @classmethod
    def _key_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _API_KEY.match(value.get_secret_value()):
            raise ValueError("api_key is not a Notify key (<name>-<service id>-<secret>)")
        return value

    @model_validator(mode="after")
    def _channels_complete(self) -> NotifySettings:
        if self.smtp_host and not self.smtp_from:
            raise ValueError("smtp_host needs smtp_from")
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError("smtp_username and smtp_password go together")
        if self.smtp_username and not self.smtp_starttls:
            raise ValueError("an SMTP login needs smtp_starttls: never a password in clear")
        templates = self.email_template_id or self.sms_template_id
        if self.api_key and not templates:
            raise ValueError("api_key needs email_template_id or sms_template_id")
        if templates and not self.api_key:
            raise ValueError("a Notify template id needs api_key")
        if (self.smtp_host or self.api_key) and not self.public_base_url:
            raise ValueError("a notification channel needs public_base_url for its links")
        return self

    @property
    def smtp_enabled(self) -> bool:
        return self.smtp_host is not None

    @property
    def govuk_notify_enabled(self) -> bool:
        return self.api_key is not None

    @property
    def enabled(self) -> bool:
        return self.smtp_enabled or self.govuk_notify_enabled


def notify_variable_names() -> frozenset[str]:
    """Every ``GATEWAY_NOTIFY_*`` variable a setting reads: the gateway's own check
    for unknown ``GATEWAY_*`` variables must accept these."""
    return frozenset(NOTIFY_PREFIX + name.upper() for name in NotifySettings.model_fields)


def load_notify_settings(**overrides: object) -> NotifySettings:
    """The settings, refusing a misspelt ``GATEWAY_NOTIFY_*`` variable."""
    known = notify_variable_names()
    unknown = sorted(k for k in os.environ if k.startswith(NOTIFY_PREFIX) and k not in known)
    if unknown:
        raise ValueError(f"unknown notification settings: {', '.join(unknown)}")
    return NotifySettings(**overrides)  # type: ignore[arg-type]
