"""Partner delivery settings: which recipients want push (webhooks), and how.

Kept apart from the policy files: *whether* a recipient may receive something
is the agreement's business; *where* it is sent is operations'. Signing keys
are read from the environment variable the file names, never from the file,
except ``signing_key`` for local development and tests. A webhook URL is
``https``, or plain ``http`` to a loopback host only (127.0.0.0/8, ::1,
localhost); a key is a Standard Webhooks secret of at least 32 bytes
(``gateway.delivery.signing``).
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    ValidationError,
    field_validator,
    model_validator,
)

from gateway.delivery.signing import decode_secret
from gateway.embedded.hosts import is_loopback
from gateway.errors import FieldProblem, PartnersConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebhookConfig(_Strict):
    url: HttpUrl
    signing_key_env: str | None = Field(
        default=None, description="Environment variable holding this endpoint's HMAC key."
    )
    signing_key: str | None = Field(default=None, description="Inline key: development only.")
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    max_attempts: int = Field(default=5, ge=1, le=20)
    initial_backoff_seconds: float = Field(default=0.5, gt=0)
    max_backoff_seconds: float = Field(default=8.0, gt=0)
    retry_after_cap_seconds: float = Field(
        default=30.0, gt=0, description="Longest Retry-After honoured between two attempts."
    )
    breaker_failures: int = Field(
        default=3, ge=1, description="Deliveries failed in a row before the circuit opens."
    )
    breaker_cooldown_seconds: float = Field(default=30.0, gt=0)

    @field_validator("url")
    @classmethod
    def _https_or_loopback(cls, url: HttpUrl) -> HttpUrl:
        if url.scheme != "https" and not is_loopback(url.host):
            raise ValueError(
                "a webhook URL must be https; plain http is allowed only to a loopback "
                "host (127.0.0.0/8, ::1, localhost)"
            )
        return url

    @model_validator(mode="after")
    def _one_key(self) -> WebhookConfig:
        if (self.signing_key_env is None) == (self.signing_key is None):
            raise ValueError("give exactly one of signing_key_env and signing_key")
        return self

    def key(self) -> bytes:
        """The signing key's bytes, from the secret (``whsec_`` and base64) configured."""
        if self.signing_key is not None:
            source, secret = "the inline signing_key", self.signing_key
        else:
            assert self.signing_key_env is not None
            source = f"environment variable {self.signing_key_env}"
            secret = os.environ.get(self.signing_key_env, "")
            if not secret:
                raise PartnersConfigError(f"{source} is not set")
        try:
            return decode_secret(secret)
        except ValueError as exc:
            raise PartnersConfigError(f"the webhook signing key in {source} {exc}") from None


class PartnerDelivery(_Strict):
    webhook: WebhookConfig | None = None
    format: str | None = Field(
        default=None,
        description="Adapter whose native format this recipient receives (e.g. fhir). "
        "Unset: the canonical JSON envelope.",
    )


class PartnersConfig(_Strict):
    partners: dict[str, PartnerDelivery] = Field(default_factory=dict)

    def webhooks(self) -> dict[str, WebhookConfig]:
        return {name: p.webhook for name, p in self.partners.items() if p.webhook is not None}

    def formats(self) -> dict[str, str]:
        return {name: p.format for name, p in self.partners.items() if p.format is not None}


def load_partners(path: Path | None) -> PartnersConfig:
    if path is None:
        return PartnersConfig()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        config = PartnersConfig.model_validate(data)
    except OSError as exc:
        raise PartnersConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise PartnersConfigError(f"{path}: not valid YAML: {exc}") from None
    except ValidationError as exc:
        problems = [
            FieldProblem(".".join(str(p) for p in e["loc"]), e["msg"], path.name)
            for e in exc.errors(include_url=False)
        ]
        raise PartnersConfigError(f"{path}: not a valid partners file", problems) from None
    for name, webhook in config.webhooks().items():
        try:
            webhook.key()  # fail at start, not at the first delivery
        except PartnersConfigError as exc:
            raise PartnersConfigError(f"{path}: {name}: {exc}") from None
    return config
