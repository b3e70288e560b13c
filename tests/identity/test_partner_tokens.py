"""Partner systems' credentials end to end: a third-party OAuth2 client gets a token
and submits; every way a token can be wrong is refused with 401/403 problem+json,
audited, and shows no data; a partner sees only its own exchanges."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid

import httpx
import pytest
import sqlalchemy as sa
import yaml
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc import jwt
from joserfc.jwk import ECKey

from gateway.identity.assertion import client_assertion
from tests.conftest import EXAMPLES, start_gateway
from tests.partner_clients import ASSERTION_TYPE, PARTNER_CLIENTS, ROOT

POLICE = "cheshire-police"
SECRET = "a-long-client-secret-for-the-evaluation-team"
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def gateway(broker, tmp_path_factory):
    """One gateway whose registrations add a client-secret client, a police client
    that may only read, and a trust client that may submit only FHIR."""
    folder = tmp_path_factory.mktemp("clients")
    document = yaml.safe_load(PARTNER_CLIENTS.path.read_text())
    for client in document["clients"]:
        client["jwks_file"] = str(PARTNER_CLIENTS.folder / client["jwks_file"])
        if client["partner"] == "cwp-mental-health":
            client["formats"] = ["fhir"]
    document["clients"] += [
        {
            "client_id": "evaluation-secret",
            "partner": "hru-evaluation",
            "auth_method": "client_secret",
            "secret_sha256": hashlib.sha256(SECRET.encode()).hexdigest(),
            "formats": [],
            "scopes": ["exchanges:read"],
        },
        {
            "client_id": "police-reader",
            "partner": POLICE,
            "jwks_file": str(PARTNER_CLIENTS.folder / f"{POLICE}.jwks.json"),
            "formats": ["police"],
            "scopes": ["exchanges:read"],
        },
    ]
    clients = folder / "clients.yaml"
    clients.write_text(yaml.safe_dump(document))
    data_dir = tmp_path_factory.mktemp("gw-tokens")
    url = f"sqlite:///{data_dir / 'gateway.db'}"
    running, server, thread = start_gateway(
        "sqlite", url, broker.bootstrap, data_dir, clients_file=clients
    )
    yield running
    server.should_exit = True
    thread.join(timeout=10)
    running.runtime.stop()


def _token_url(gateway) -> str:
    return f"{gateway.base_url}/oauth2/token"


def _assertion_form(assertion: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
        **extra,
    }


def _submit(gateway, headers: dict[str, str], fmt: str = "police") -> httpx.Response:
    sample = EXAMPLES / "police" / "stalking-crime.json"
    return httpx.post(
        f"{gateway.base_url}/v1/inbound/{fmt}",
        content=sample.read_bytes(),
        headers={**JSON, **headers},
        timeout=30,
    )


def _audit_actions(gateway) -> list[str]:
    with gateway.store.engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT action FROM audit_log ORDER BY seq")).scalars())


def _signed(claims: dict, key: ECKey | None = None, alg: str = "ES256") -> str:
    """A token like the gateway's, signed with ``key`` (default: a stranger's)."""
    key = key or ECKey.generate_key("P-256", parameters={"kid": "forger"})
    return jwt.encode({"alg": alg, "kid": key.kid}, claims, key)


def _claims(gateway, **changes) -> dict:
    now = int(time.time())
    settings = gateway.runtime.settings
    claims = {
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
        "sub": POLICE,
        "client_id": POLICE,
        "scope": "submit exchanges:read",
        "iat": now,
        "nbf": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def test_a_third_party_oauth2_client_gets_a_token_and_submits(gateway):
    """authlib's own client with private_key_jwt, as a partner system would use it.
    Like NHS England's APIs the gateway takes assertions that expire within five
    minutes; authlib's default is an hour, so the client says so."""
    token_url = _token_url(gateway)
    client = OAuth2Client(
        client_id=POLICE,
        client_secret=ECKey.import_key(PARTNER_CLIENTS.keys[POLICE]),
        token_endpoint_auth_method=PrivateKeyJWT(
            token_url, alg="ES256", claims={"exp": int(time.time()) + 120}
        ),
    )
    token = client.fetch_token(token_url, grant_type="client_credentials")
    assert token["token_type"] == "Bearer" and token["expires_in"] > 0
    answer = _submit(gateway, {"Authorization": f"Bearer {token['access_token']}"})
    assert answer.status_code == 202, answer.text
    exchange_id = answer.json()["exchange_id"]
    stored = gateway.store.get_exchange(exchange_id)
    assert stored["source_partner"] == POLICE
    with gateway.store.engine.connect() as conn:
        collected = conn.execute(
            sa.text(
                "SELECT details FROM audit_log WHERE exchange_id = :x AND action = 'collection'"
            ),
            {"x": exchange_id},
        ).scalar_one()
    assert json.loads(collected)["client"] == POLICE  # the acting client (s62(3))


def test_the_published_keys_verify_the_gateways_tokens(gateway):
    jwks = httpx.get(f"{gateway.base_url}/.well-known/jwks.json").json()
    assert jwks["keys"] and all("d" not in key for key in jwks["keys"])  # public halves only
    token = PARTNER_CLIENTS.token(gateway.base_url, POLICE)
    from joserfc.jwk import KeySet

    decoded = jwt.decode(token, KeySet.import_key_set(jwks))
    assert decoded.claims["partner"] == POLICE
    assert set(decoded.claims["scope"].split()) >= {"submit", "exchanges:read"}


def test_a_client_secret_is_the_second_method(gateway):
    basic = base64.b64encode(f"evaluation-secret:{SECRET}".encode()).decode()
    answer = httpx.post(
        _token_url(gateway),
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["scope"] == "exchanges:read"
    wrong = httpx.post(
        _token_url(gateway),
        data={
            "grant_type": "client_credentials",
            "client_id": "evaluation-secret",
            "client_secret": "not-it",
        },
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "case",
    ["replayed", "wrong-key", "expired", "wrong-audience", "unknown-client", "too-long-lived"],
)
def test_a_bad_assertion_gets_no_token_and_is_audited(gateway, case):
    token_url = _token_url(gateway)
    key = PARTNER_CLIENTS.keys[POLICE]
    now = int(time.time())
    if case == "replayed":
        assertion = client_assertion(POLICE, key, token_url)
        first = httpx.post(token_url, data=_assertion_form(assertion))
        assert first.status_code == 200
    elif case == "wrong-key":
        stranger = ECKey.generate_key("P-256", parameters={"kid": "x"}).as_dict(private=True)
        assertion = client_assertion(POLICE, stranger, token_url)
    else:
        claims = {
            "iss": POLICE,
            "sub": POLICE,
            "aud": token_url,
            "iat": now,
            "exp": now + 60,
            "jti": uuid.uuid4().hex,
        }
        if case == "expired":
            claims.update(iat=now - 600, exp=now - 300)
        elif case == "wrong-audience":
            claims["aud"] = "https://elsewhere.example/token"
        elif case == "unknown-client":
            claims.update(iss="ghost", sub="ghost")
        elif case == "too-long-lived":
            claims["exp"] = now + 3600
        assertion = _signed(claims, ECKey.import_key(key))
    before = _audit_actions(gateway)
    answer = httpx.post(token_url, data=_assertion_form(assertion))
    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["error"] == "invalid_client"
    assert "access_token" not in answer.text
    assert _audit_actions(gateway)[len(before) :] == ["access-refused"]


def test_a_scope_beyond_the_registration_is_refused(gateway):
    assertion = client_assertion("police-reader", PARTNER_CLIENTS.keys[POLICE], _token_url(gateway))
    answer = httpx.post(_token_url(gateway), data=_assertion_form(assertion, scope="submit"))
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_scope"


@pytest.mark.parametrize(
    "case",
    [
        "expired",
        "not-yet-valid",
        "wrong-audience",
        "wrong-issuer",
        "wrong-key",
        "alg-none",
        "not-bearer",
        "garbage",
    ],
)
def test_a_bad_access_token_is_401_with_a_challenge_and_no_data(gateway, case):
    own = gateway.runtime.tokens.keys.current
    now = int(time.time())
    if case == "expired":
        token = _signed(_claims(gateway, iat=now - 900, nbf=now - 900, exp=now - 600), own)
    elif case == "not-yet-valid":
        token = _signed(_claims(gateway, nbf=now + 600, exp=now + 900), own)
    elif case == "wrong-audience":
        token = _signed(_claims(gateway, aud="someone-else"), own)
    elif case == "wrong-issuer":
        token = _signed(_claims(gateway, iss="https://idp.example"), own)
    elif case == "wrong-key":
        token = _signed(_claims(gateway))
    elif case == "alg-none":
        header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
        body = base64.urlsafe_b64encode(json.dumps(_claims(gateway)).encode()).rstrip(b"=")
        token = f"{header}.{body.decode()}."
    elif case == "not-bearer":
        token = None
    else:
        token = "not.a.token"
    headers = (
        {"Authorization": "Basic Zm9vOmJhcg=="}
        if token is None
        else {"Authorization": f"Bearer {token}"}
    )
    before_rows = gateway.count_rows()
    answer = _submit(gateway, headers)
    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.headers["www-authenticate"].startswith('Bearer realm="isg-gateway"')
    assert "exchange_id" not in answer.json()
    after = gateway.count_rows()
    assert after["exchanges"] == before_rows["exchanges"]
    assert after["audit_log"] == before_rows["audit_log"] + 1  # the refusal, audited


def test_a_token_without_the_scope_is_403_insufficient_scope(gateway):
    headers = gateway.auth(POLICE, scope="exchanges:read")
    answer = _submit(gateway, headers)
    assert answer.status_code == 403
    assert 'error="insufficient_scope"' in answer.headers["www-authenticate"]
    assert 'scope="submit"' in answer.headers["www-authenticate"]


def test_a_partner_submits_only_the_formats_its_registration_allows(gateway):
    trust = gateway.auth("cwp-mental-health")
    answer = _submit(gateway, trust, fmt="police")
    assert answer.status_code == 403, answer.text
    assert answer.json()["type"].endswith("/forbidden")
    assert 'error="insufficient_scope"' in answer.headers["www-authenticate"]
    assert _audit_actions(gateway)[-1] == "access-refused"


def test_another_partners_exchange_is_a_404(gateway):
    """Its existence does not leak: the same answer as an id nobody used."""
    submitted = _submit(gateway, gateway.auth(POLICE))
    exchange_id = submitted.json()["exchange_id"]
    own = httpx.get(f"{gateway.base_url}/v1/exchanges/{exchange_id}", headers=gateway.auth(POLICE))
    assert own.status_code == 200 and own.json()["source_partner"] == POLICE
    other = httpx.get(
        f"{gateway.base_url}/v1/exchanges/{exchange_id}",
        headers=gateway.auth("cwp-mental-health"),
    )
    nobody = httpx.get(
        f"{gateway.base_url}/v1/exchanges/{uuid.uuid4()}",
        headers=gateway.auth("cwp-mental-health"),
    )
    assert other.status_code == nobody.status_code == 404
    assert other.json()["type"] == nobody.json()["type"]
    anonymous = httpx.get(f"{gateway.base_url}/v1/exchanges/{exchange_id}")
    assert anonymous.status_code == 401


def test_operations_endpoints_are_for_loopback_or_configured(gateway):
    """Loopback callers (this test) see them; /healthz says nothing of the partnership."""
    health = httpx.get(f"{gateway.base_url}/healthz").json()
    assert health == {"status": "ok"}
    assert httpx.get(f"{gateway.base_url}/metrics").status_code == 200
    from fastapi.testclient import TestClient

    from gateway.api import create_app

    remote = TestClient(create_app(gateway.runtime), client=("203.0.113.9", 50000))
    assert remote.get("/metrics").status_code == 404
    ready = remote.get("/readyz")
    assert ready.json() == {"status": "ready"}  # no detail for a stranger


def test_signing_keys_rotate_and_old_tokens_stay_valid_until_they_expire(gateway):
    keys = gateway.runtime.tokens.keys
    token = PARTNER_CLIENTS.token(gateway.base_url, POLICE)
    before = {k["kid"] for k in keys.public_jwks()["keys"]}
    assert keys.rotate_if_due(now=time.time() + keys.rotate_after + 1)
    after = {k["kid"] for k in keys.public_jwks()["keys"]}
    assert before < after  # the new key is published beside the old
    assert _submit(gateway, {"Authorization": f"Bearer {token}"}).status_code == 202
    fresh = PARTNER_CLIENTS.token(gateway.base_url, POLICE)
    kid = json.loads(base64.urlsafe_b64decode(fresh.split(".")[0] + "==="))["kid"]
    assert kid in after - before


def test_sample_clients_of_the_embedded_default(tmp_path):
    """A client per party in the data directory, keys readable by their owner only,
    and `gateway token` printing a token the token service accepts."""
    from typer.testing import CliRunner

    from gateway.cli import app

    result = CliRunner().invoke(app, ["token", POLICE, "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert token.count(".") == 2
    registrations = yaml.safe_load((tmp_path / "clients.yaml").read_text())["clients"]
    police = next(c for c in registrations if c["partner"] == POLICE)
    assert police["formats"] == ["police", "marac"]
    private = tmp_path / "clients" / f"{POLICE}.private.jwk.json"
    assert private.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "clients.yaml").stat().st_mode & 0o777 == 0o600
    unknown = CliRunner().invoke(app, ["token", "nobody", "--data-dir", str(tmp_path)])
    assert unknown.exit_code == 2 and "no sample client" in unknown.output
    assert (ROOT / "policies" / "cheshire-hru").is_dir()


@pytest.fixture(scope="module")
def two_exchanges(gateway):
    """An exchange the police submitted and one the mental-health trust submitted."""
    police = _submit(gateway, gateway.auth(POLICE)).json()["exchange_id"]
    fhir = EXAMPLES / "fhir" / "suicidal-ideation-alert-message.json"
    answer = httpx.post(
        f"{gateway.base_url}/v1/inbound/fhir",
        content=fhir.read_bytes(),
        headers={"Content-Type": "application/fhir+json", **gateway.auth("cwp-mental-health")},
    )
    assert answer.status_code == 202, answer.text
    return {POLICE: police, "cwp-mental-health": answer.json()["exchange_id"]}


CALLERS = {
    "the submitter": lambda g, owner: g.auth(owner),
    "another partner": lambda g, owner: g.auth("cwp-mental-health" if owner == POLICE else POLICE),
    "a token without exchanges:read": lambda g, owner: g.auth(owner, scope="submit"),
    "a stranger to the agreement": lambda g, owner: g.auth("nobody"),
    "no credentials": lambda g, owner: {},
}
EXPECTED = {
    "the submitter": 200,
    "another partner": 404,
    "a token without exchanges:read": 403,
    "a stranger to the agreement": 403,
    "no credentials": 401,
}


@pytest.mark.parametrize("owner", [POLICE, "cwp-mental-health"])
@pytest.mark.parametrize("caller", list(CALLERS))
def test_who_may_read_which_exchange(gateway, two_exchanges, owner, caller):
    """The matrix: every kind of caller against each partner's own exchange."""
    headers = CALLERS[caller](gateway, owner)
    answer = httpx.get(f"{gateway.base_url}/v1/exchanges/{two_exchanges[owner]}", headers=headers)
    assert answer.status_code == EXPECTED[caller], answer.text
    if answer.status_code == 200:
        assert answer.json()["source_partner"] == owner
    else:
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert "decisions" not in answer.json()


def test_the_partnerships_identity_provider_can_issue_the_tokens_instead(broker, tmp_path):
    """Configured with the provider's JWKS URL and issuer, the gateway accepts the
    provider's tokens for a registered client, and no longer its own."""
    from fastapi import FastAPI

    from tests.conftest import serve_app

    provider_key = ECKey.generate_key("P-256", parameters={"kid": "idp-1"})
    idp = FastAPI()

    @idp.get("/keys")
    def keys() -> dict:
        return {"keys": [provider_key.as_dict(private=False)]}

    idp_server, idp_thread, idp_base = serve_app(idp)
    issuer = "https://idp.partnership.example"
    running, server, thread = start_gateway(
        "sqlite",
        f"sqlite:///{tmp_path / 'gateway.db'}",
        broker.bootstrap,
        tmp_path,
        external_token_jwks_url=f"{idp_base}/keys",
        external_token_issuer=issuer,
    )
    try:
        audience = running.runtime.settings.token_audience
        now = int(time.time())
        claims = {
            "iss": issuer,
            "aud": audience,
            "azp": POLICE,
            "sub": "service-principal-7",
            "scope": "submit exchanges:read",
            "iat": now,
            "exp": now + 300,
        }
        accepted = _submit(running, {"Authorization": f"Bearer {_signed(claims, provider_key)}"})
        assert accepted.status_code == 202, accepted.text
        elsewhere = _signed({**claims, "iss": "https://other-idp.example"}, provider_key)
        assert _submit(running, {"Authorization": f"Bearer {elsewhere}"}).status_code == 401
        own = running.runtime.tokens.sign(running.runtime.tokens.clients.get(POLICE), ("submit",))
        answer = _submit(running, {"Authorization": f"Bearer {own['access_token']}"})
        assert answer.status_code == 401  # the gateway's own tokens are not the provider's
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        running.runtime.stop()
        idp_server.should_exit = True
        idp_thread.join(timeout=10)


def test_a_key_due_for_rotation_is_rotated_when_it_would_sign(tmp_path):
    """Not only at start: a long-running gateway rotates when a token is issued."""
    from gateway.identity.keys import SigningKeys

    keys = SigningKeys(tmp_path / "keys.json", rotate_after=3600, token_lifetime=300)
    first = keys.current.kid
    keys.rotate_after = 0  # the key in use is now due
    second = keys.current.kid
    keys.rotate_after = 3600
    assert second != first and keys.current.kid == second
    # The old key still verifies the tokens it signed until they expire.
    assert {k["kid"] for k in keys.public_jwks()["keys"]} == {first, second}
