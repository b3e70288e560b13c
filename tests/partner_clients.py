"""Partner systems for the tests: a registered client per party of both sample
agreements (and one of a stranger), each with its own key pair, and real access
tokens from the gateway under test's token endpoint."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from joserfc.jwk import ECKey

from gateway.identity.assertion import client_assertion
from gateway.identity.caller import PARTNER_SCOPES
from gateway.policy import load_bundle

ROOT = Path(__file__).resolve().parent.parent
#: A client whose partner is a party to no agreement: its calls are refused.
STRANGER = "nobody"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FORMATS = ["police", "fhir", "probation", "marac", "mappa", "alert"]


class PartnerClients:
    """The registrations file and each client's private key."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "clients.yaml"
        self.keys: dict[str, dict[str, Any]] = {}
        self._tokens: dict[tuple[str, str, str | None], tuple[str, float]] = {}
        parties: set[str] = {STRANGER}
        for agreement in ("cheshire-hru", "west-midlands-easi"):
            parties |= set(load_bundle(ROOT / "policies" / agreement).parties)
        clients = []
        for party in sorted(parties):
            key = ECKey.generate_key("P-256", parameters={"kid": f"{party}-test"})
            self.keys[party] = key.as_dict(private=True)
            jwks = folder / f"{party}.jwks.json"
            jwks.write_text(json.dumps({"keys": [key.as_dict(private=False)]}), encoding="utf-8")
            clients.append(
                {
                    "client_id": party,
                    "partner": party,
                    "jwks_file": jwks.name,
                    "formats": FORMATS,
                    "scopes": list(PARTNER_SCOPES),
                }
            )
        self.path.write_text(yaml.safe_dump({"clients": clients}), encoding="utf-8")

    def token(self, base_url: str, partner: str, scope: str | None = None) -> str:
        """A fresh access token for ``partner`` from the gateway at ``base_url``."""
        token_url = f"{base_url}/oauth2/token"
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_assertion(partner, self.keys[partner], token_url),
        }
        if scope is not None:
            form["scope"] = scope
        answer = httpx.post(token_url, data=form, timeout=30)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    def headers(self, base_url: str, partner: str, scope: str | None = None) -> dict[str, str]:
        """``Authorization`` for ``partner``, a token reused while it has a minute left."""
        cached = self._tokens.get((base_url, partner, scope))
        if cached is None or cached[1] < time.monotonic() + 60:
            cached = (self.token(base_url, partner, scope), time.monotonic() + 240)
            self._tokens[(base_url, partner, scope)] = cached
        return {"Authorization": f"Bearer {cached[0]}"}


PARTNER_CLIENTS = PartnerClients(Path(tempfile.mkdtemp(prefix="isg-test-clients-")))
