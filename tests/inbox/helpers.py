"""A gateway with people's sign-in against a real OpenID Connect provider on
loopback (``oidc-provider-mock``), the routes of ``policies/cheshire-hru``, and
the people who staff its desks, for the inbox's tests (API and browser)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa
from oidc_provider_mock import run_server_in_thread

from gateway.api import create_app
from gateway.embedded.broker import free_port
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.store import Store
from gateway.store.tables import alert_clocks
from tests.conftest import EXAMPLES, TEST_KEY, RunningGateway
from tests.identity.oidc_provider import ROLE_MAP, Provider, served, sign_in
from tests.partner_clients import PARTNER_CLIENTS

ALERT = EXAMPLES / "fhir" / "suicidal-ideation-alert-message.json"
#: The mental-health trust's alert reaches the NHS crisis line, whose route
#: (policies/cheshire-hru/routes/routes.yaml) starts at the desk ``crisis-line``.
SENDER, RECIPIENT = "cwp-mental-health", "nhs-crisis-line"

#: sub -> (email, the provider's role values); the routes name staff by email.
PEOPLE = {
    "oidc|cwp|duty-practitioner": ("crisis-line@cwp.example", ["ISG.Duty"]),
    "oidc|cwp|duty-manager": ("crisis-manager@cwp.example", ["ISG.Spoc"]),
    "oidc|cwp|hru-nurse": ("hru-nurse@cwp.example", ["ISG.Spoc"]),
    "oidc|probation|spoc-north": ("spoc-north@probation.example", ["ISG.Spoc"]),
    "oidc|cwp|no-role": ("crisis-line@cwp.example", ["Finance.Reader"]),
    "oidc|cwp|auditor": ("crisis-line@cwp.example", ["ISG.Auditor"]),
}
NAMES = {
    "oidc|cwp|duty-practitioner": "Priya Duty",
    "oidc|cwp|duty-manager": "Morgan Manager",
}


@dataclass(frozen=True)
class InboxGateway:
    gateway: RunningGateway
    issuer: str

    @property
    def base_url(self) -> str:
        return self.gateway.base_url

    def person(self, sub: str) -> tuple[httpx.Client, str]:
        """A browser-like client signed in as ``sub``, and its session's CSRF token."""
        client = httpx.Client(base_url=self.base_url, timeout=30)
        me = sign_in(client, sub)
        assert me.status_code == 200, me.text
        return client, me.json()["csrf_token"]

    def submit_alert(self) -> tuple[str, str]:
        """The trust's urgent alert, submitted by its system: (exchange id, item id)."""
        answer = httpx.post(
            f"{self.base_url}/v1/inbound/fhir",
            content=ALERT.read_bytes(),
            headers={"Content-Type": "application/fhir+json", **self.gateway.auth(SENDER)},
            timeout=30,
        )
        assert answer.status_code == 202, answer.text
        exchange_id = answer.json()["exchange_id"]
        with self.gateway.store.engine.connect() as conn:
            clock_id = conn.execute(
                sa.select(alert_clocks.c.clock_id).where(
                    alert_clocks.c.exchange_id == exchange_id,
                    alert_clocks.c.recipient == RECIPIENT,
                )
            ).scalar_one()
        return exchange_id, clock_id


def add_people(issuer: str) -> None:
    for sub, (email, roles) in PEOPLE.items():
        claims = {"email": email, "roles": roles, "name": NAMES.get(sub, email)}
        answer = httpx.put(f"{issuer}/users/{sub}", json=claims, timeout=10)
        assert answer.status_code == 204, answer.text


@contextmanager
def inbox_gateway(
    kind: str, store_url: str, bootstrap: str, data_dir: Path
) -> Iterator[InboxGateway]:
    """The gateway (as ``start_gateway`` starts it) registered at a provider that
    checks its redirect URI and client secret, as a real one does."""
    with run_server_in_thread(require_client_registration=True, require_nonce=True) as server:
        provider = Provider(f"http://localhost:{server.server_port}")
        add_people(provider.issuer)
        port = free_port()
        client_id, secret = provider.register_client(f"http://127.0.0.1:{port}/auth/callback")
        Store.from_url(store_url).upgrade()
        settings = Settings(
            data_dir=data_dir,
            database_url=store_url,
            kafka_bootstrap=bootstrap,
            topic_prefix=f"t{uuid.uuid4().hex[:8]}",
            pseudonym_key=TEST_KEY,
            relay_poll_seconds=0.2,
            clients_file=PARTNER_CLIENTS.path,
            rate_limit_per_address="10000/second",
            oidc_issuer=provider.issuer,
            oidc_client_id=client_id,
            oidc_client_secret=secret,
            oidc_role_map=ROLE_MAP,
            session_secret="inbox-test-session-secret-" + "x" * 32,
        )
        runtime = Runtime(settings).start()
        try:
            with served(create_app(runtime), port) as base:
                yield InboxGateway(RunningGateway(runtime, base, kind), provider.issuer)
        finally:
            runtime.stop()
