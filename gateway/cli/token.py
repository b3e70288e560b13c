"""``gateway token PARTNER``: an access token for a sample client of the embedded default."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.common import DataDir, fail, settings_for


def token(
    partner: Annotated[str, typer.Argument(help="The party whose sample client asks.")],
    data_dir: DataDir = None,
    policy_dir: Annotated[
        Path | None, typer.Option("--policy-dir", help="Policy bundle in force (as for serve).")
    ] = None,
    scope: Annotated[
        str | None,
        typer.Option(help="Space-separated scopes to ask for (default: all registered)."),
    ] = None,
) -> None:
    """Print an access token for PARTNER's sample client.

    The client signs an assertion with its private key in the data directory
    and the gateway's token service answers it, as POST /oauth2/token would:
    TOKEN=$(gateway token cheshire-police), then send Authorization: Bearer $TOKEN.
    """
    from gateway.errors import GatewayError
    from gateway.identity.assertion import client_assertion
    from gateway.identity.first_run import private_key_path
    from gateway.identity.service import token_service
    from gateway.policy import load_bundle
    from gateway.store import Store

    settings = settings_for(data_dir, **({"policy_dir": policy_dir} if policy_dir else {}))
    if not settings.embedded:
        raise fail(
            "gateway token is for the embedded default's sample clients; partner systems "
            "ask POST /oauth2/token with their own keys"
        )
    try:
        bundle = load_bundle(settings.policy_dir)
        store = Store.from_url(settings.store_url)
        store.upgrade()
        tokens = token_service(settings, bundle, store)
        key_file = private_key_path(settings.data_dir, partner)
        if tokens.clients.get(partner) is None or not key_file.exists():
            known = ", ".join(sorted(c.client_id for c in tokens.clients)) or "none"
            raise fail(f"no sample client {partner!r} in {settings.data_dir} (known: {known})")
        assertion = client_assertion(
            partner, json.loads(key_file.read_text(encoding="utf-8")), settings.token_issuer
        )
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        }
        if scope:
            form["scope"] = scope
        answer = tokens.issue(form, None, token_url=settings.token_issuer)
    except GatewayError as refused:
        raise fail(str(refused)) from None
    typer.echo(answer["access_token"])


token_keys_app = typer.Typer(
    no_args_is_help=True,
    help="The token-signing keys file, where it is kept outside the gateway (a Kubernetes "
    "Secret with GATEWAY_TOKEN_SIGNING_KEYS_READ_ONLY=true).",
)


@token_keys_app.command("rotate")
def rotate_token_keys(
    keys_file: Annotated[Path, typer.Argument(help="A writable copy of the keys file.")],
    token_seconds: Annotated[
        int, typer.Option(help="How long an access token lives (GATEWAY_ACCESS_TOKEN_SECONDS).")
    ] = 300,
) -> None:
    """Make the keys file, or add its next key and drop the ones no token still needs;
    then put the file in the Secret. The new key signs five minutes later, once every pod
    has read it (docs/operations.md#keys-and-their-rotation)."""
    from gateway.identity.keys import SigningKeys

    existed = keys_file.exists()
    keys = SigningKeys(keys_file, rotate_after=float("inf"), token_lifetime=token_seconds)
    kept = keys.rotate_now() if existed else [str(k["kid"]) for k in keys.public_jwks()["keys"]]
    typer.echo(f"{keys_file}: keys {', '.join(kept)} (the last is new)")
