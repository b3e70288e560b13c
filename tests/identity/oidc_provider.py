"""A real OpenID Connect provider on loopback (the ``oidc-provider-mock`` package),
and a gateway app with people's sign-in served by a real uvicorn, for the tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import Depends, FastAPI
from oidc_provider_mock import User, run_server_in_thread

from gateway.api import problems
from gateway.api.sign_in import install_sign_in, require_csrf
from gateway.embedded.broker import free_port
from gateway.identity.caller import Caller
from gateway.identity.people import AUDITOR, current_person, require_role
from gateway.settings import Settings

#: The provider's people, their role claims as an identity provider would send them.
USERS = [
    User(sub="alice", claims={"name": "Alice Example", "roles": ["ISG.Spoc", "ISG.Auditor"]}),
    User(sub="bob", claims={"name": "Bob Example", "roles": ["Finance.Reader", "isg.spoc"]}),
    User(sub="carol", claims={"preferred_username": "carol", "roles": "ISG.Governance"}),
]
ROLE_MAP = {
    "ISG.Spoc": "spoc",
    "ISG.Duty": "duty",
    "ISG.Governance": "governance",
    "ISG.Auditor": "auditor",
    "ISG.Dpo": "dpo",
}


@dataclass(frozen=True)
class Provider:
    issuer: str

    def register_client(self, redirect_uri: str) -> tuple[str, str]:
        """Dynamic client registration: the provider then checks the redirect URI
        and the client secret as a real one does. Returns (client id, secret)."""
        answer = httpx.post(
            f"{self.issuer}/oauth2/clients", json={"redirect_uris": [redirect_uri]}, timeout=10
        )
        answer.raise_for_status()
        body = answer.json()
        return body["client_id"], body["client_secret"]


@contextmanager
def running_provider() -> Iterator[Provider]:
    with run_server_in_thread(
        require_client_registration=True, require_nonce=True, user_claims=USERS
    ) as server:
        yield Provider(f"http://localhost:{server.server_port}")


def sign_in_settings(data_dir: Path, **overrides: Any) -> Settings:
    return Settings(data_dir=data_dir, **{"oidc_role_map": ROLE_MAP, **overrides})


def people_app(settings: Settings) -> FastAPI:
    """Sign-in installed as ``create_app`` installs it, and endpoints using the
    dependencies later pages use."""
    app = FastAPI()
    problems.install(app)
    install_sign_in(app, settings, settings.data_dir)

    @app.get("/whoami")
    def whoami(caller: Caller = Depends(current_person)) -> dict[str, Any]:
        return {"person": caller.person, "roles": sorted(caller.roles), "actor": caller.actor}

    @app.get("/audit")
    def audit(caller: Caller = Depends(require_role(AUDITOR))) -> dict[str, Any]:
        return {"auditor": caller.person}

    @app.post("/forms/acknowledge", status_code=204, dependencies=[Depends(require_csrf)])
    def acknowledge() -> None:
        return None

    return app


@contextmanager
def served(app: FastAPI, port: int) -> Iterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def gateway_signing_in(provider: Provider, data_dir: Path, **overrides: Any) -> Iterator[str]:
    """A gateway app registered at ``provider``, served on loopback; its base URL."""
    port = free_port()
    client_id, secret = provider.register_client(f"http://127.0.0.1:{port}/auth/callback")
    settings = sign_in_settings(
        data_dir,
        oidc_issuer=provider.issuer,
        oidc_client_id=client_id,
        oidc_client_secret=secret,
        **overrides,
    )
    with served(people_app(settings), port) as base:
        yield base


def sign_in(client: httpx.Client, sub: str, next_: str | None = None) -> httpx.Response:
    """The browser's part: the gateway's redirect to the provider, the person chosen
    on the provider's form, and every redirect after it."""
    start = client.get("/auth/login", params={"next": next_} if next_ else None)
    assert start.status_code == 302, start.text
    return client.post(start.headers["location"], data={"sub": sub}, follow_redirects=True)
