"""Partner systems registered to call the gateway: who they are, how they prove it,
which formats they may submit and what their tokens may allow.

The registrations file (``GATEWAY_CLIENTS_FILE``) is YAML::

    clients:
      - client_id: cheshire-police-rms
        partner: cheshire-police          # a party to the agreement
        auth_method: private_key_jwt      # or client_secret
        jwks_file: keys/cheshire-police-rms.jwks.json   # or jwks_url
        formats: [police, marac]
        scopes: [submit, exchanges:read, deliveries:read, acknowledge]

A ``client_secret`` registration stores the secret's SHA-256 (``secret_sha256``),
never the secret. Relative paths are read from the file's folder.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from pathlib import Path
from typing import Final, Literal

import httpx
import yaml
from joserfc.jwk import KeySet
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gateway.errors import ClientsConfigError, field_path
from gateway.identity.caller import PARTNER_SCOPES

log = logging.getLogger(__name__)
PRIVATE_KEY_JWT: Final = "private_key_jwt"
CLIENT_SECRET: Final = "client_secret"


class ClientRegistration(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: str = Field(pattern=r"^[A-Za-z0-9._:-]{1,128}$")
    partner: str
    auth_method: Literal["private_key_jwt", "client_secret"] = PRIVATE_KEY_JWT
    jwks_file: Path | None = None
    jwks_url: str | None = None
    secret_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    formats: tuple[str, ...] = ()
    scopes: tuple[str, ...] = PARTNER_SCOPES

    @model_validator(mode="after")
    def _credentials_match_the_method(self) -> ClientRegistration:
        if self.auth_method == PRIVATE_KEY_JWT and (self.jwks_file is None) == (
            self.jwks_url is None
        ):
            raise ValueError("private_key_jwt needs exactly one of jwks_file and jwks_url")
        if self.auth_method == CLIENT_SECRET and self.secret_sha256 is None:
            raise ValueError("client_secret needs secret_sha256 (the secret's SHA-256, in hex)")
        unknown = sorted(set(self.scopes) - set(PARTNER_SCOPES))
        if unknown:
            raise ValueError(f"unknown scopes {unknown}; known: {list(PARTNER_SCOPES)}")
        return self

    def secret_matches(self, secret: str) -> bool:
        if self.secret_sha256 is None:
            return False
        offered = hashlib.sha256(secret.encode()).hexdigest()
        return hmac.compare_digest(offered, self.secret_sha256)

    def public_keys(self) -> KeySet:
        """The client's public keys, read each time: a partner rotates by editing them."""
        try:
            if self.jwks_file is not None:
                document = json.loads(self.jwks_file.read_text(encoding="utf-8"))
            else:
                assert self.jwks_url is not None
                response = httpx.get(self.jwks_url, timeout=5)
                response.raise_for_status()
                document = response.json()
            return KeySet.import_key_set(document)
        except (OSError, ValueError, httpx.HTTPError) as exc:
            raise ClientsConfigError(f"{self.client_id}: cannot read its keys: {exc}") from exc


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    clients: list[ClientRegistration] = []


class ClientRegistry:
    """The registered clients, by id."""

    def __init__(self, clients: list[ClientRegistration]) -> None:
        self._by_id: dict[str, ClientRegistration] = {}
        for client in clients:
            if client.client_id in self._by_id:
                raise ClientsConfigError(f"client {client.client_id!r} is registered twice")
            self._by_id[client.client_id] = client

    def get(self, client_id: str) -> ClientRegistration | None:
        return self._by_id.get(client_id)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._by_id.values())

    def for_partner(self, partner: str) -> list[ClientRegistration]:
        return [c for c in self._by_id.values() if c.partner == partner]


def load_clients(path: Path | None, parties: frozenset[str] | None = None) -> ClientRegistry:
    """Read the registrations. A client of a partner that is not a party to the
    agreement in force is kept but named in the log: its calls are refused (403)."""
    if path is None:
        return ClientRegistry([])
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ClientsConfigError(f"{path}: cannot read: {exc}") from exc
    try:
        parsed = _File.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{field_path(e['loc'], '(file)')}: {e['msg']}" for e in exc.errors())
        raise ClientsConfigError(f"{path}: {problems}") from None
    clients = [
        c.model_copy(update={"jwks_file": path.parent / c.jwks_file}) if c.jwks_file else c
        for c in parsed.clients
    ]
    if parties is not None:
        strangers = sorted({c.partner for c in clients} - parties)
        if strangers:
            log.warning("%s: clients of %s, not parties to the agreement in force", path, strangers)
    return ClientRegistry(clients)
