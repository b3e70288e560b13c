"""The token service as the settings configure it."""

from __future__ import annotations

from functools import partial

from gateway.errors import ClientsConfigError
from gateway.identity.clients import load_clients
from gateway.identity.first_run import ensure_sample_clients
from gateway.identity.keys import SigningKeys
from gateway.identity.tokens import ExternalTokens, TokenService, TokenSettings
from gateway.policy import PolicyBundle
from gateway.settings import Settings
from gateway.store import Store
from gateway.store.assertions import remember_assertion

SIGNING_KEYS_FILE = "keys/token-signing.json"


def token_service(settings: Settings, bundle: PolicyBundle, store: Store) -> TokenService:
    """Registered clients (with the embedded store, a sample one per party unless a
    file names them), the token-signing keys, and the identity provider's keys where
    configured."""
    clients_file = settings.clients_file
    if clients_file is None:
        if settings.database_url is not None:
            raise ClientsConfigError(
                "GATEWAY_CLIENTS_FILE must name the registered partner systems when an "
                "external database is used"
            )
        kinds = {party_id: party.kind for party_id, party in bundle.parties.items()}
        clients_file = ensure_sample_clients(settings.data_dir, kinds)
    clients = load_clients(clients_file, frozenset(bundle.parties))
    keys = SigningKeys(
        settings.token_signing_keys_file or settings.data_dir / SIGNING_KEYS_FILE,
        rotate_after=settings.token_key_rotation_days * 86_400,
        token_lifetime=settings.access_token_seconds,
        read_only=settings.token_signing_keys_read_only,
    )
    external = None
    if settings.external_token_jwks_url is not None:
        if settings.external_token_issuer is None:
            raise ClientsConfigError(
                "GATEWAY_EXTERNAL_TOKEN_ISSUER must be set with GATEWAY_EXTERNAL_TOKEN_JWKS_URL"
            )
        external = ExternalTokens(
            settings.external_token_jwks_url,
            settings.external_token_issuer,
            settings.token_audience,
        )
    return TokenService(
        clients,
        keys,
        TokenSettings(
            settings.token_issuer, settings.token_audience, settings.access_token_seconds
        ),
        partial(remember_assertion, store),
        external,
    )
