"""People's sign-in: OpenID Connect against a real provider on loopback, the signed
session cookie, CSRF protection, role mapping, and sign-in left unconfigured."""

from __future__ import annotations

import base64
import json
import os
import stat
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI, Request
from itsdangerous import TimestampSigner

from gateway.api.sign_in import SECRET_FILE, SESSION_COOKIE, install_sign_in
from gateway.embedded.broker import free_port
from gateway.errors import PROBLEM_BASE, SignInConfigError
from gateway.identity.people import (
    PERSON,
    ROLES,
    map_roles,
    require_role,
    session_person,
    signed_in,
)
from tests.identity.oidc_provider import (
    ROLE_MAP,
    Provider,
    gateway_signing_in,
    people_app,
    running_provider,
    served,
    sign_in,
    sign_in_settings,
)

PROBLEM = "application/problem+json"
#: The mock provider drives authlib's server side through an API authlib deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for key in list(os.environ):
        if key.startswith("GATEWAY_"):
            monkeypatch.delenv(key)


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with running_provider() as running:
        yield running


@pytest.fixture(scope="module")
def gateway_base(provider, tmp_path_factory) -> Iterator[str]:
    with gateway_signing_in(provider, tmp_path_factory.mktemp("people")) as base:
        yield base


@pytest.fixture
def browser(gateway_base) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway_base, timeout=10) as client:
        yield client


def assert_problem(answer: httpx.Response, status: int, slug: str) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM
    body = answer.json()
    assert body["type"] == PROBLEM_BASE + slug
    return body


def test_a_person_signs_in_and_gets_the_roles_their_claim_maps_to(browser):
    answer = sign_in(browser, "alice")
    assert answer.status_code == 200, answer.text
    assert answer.url.path == "/auth/me"
    me = answer.json()
    assert me["subject"] == "alice"
    assert me["name"] == "Alice Example"
    assert me["roles"] == ["auditor", "spoc"]
    assert len(me["csrf_token"]) >= 32
    assert answer.headers["cache-control"] == "no-store"
    assert browser.get("/whoami").json() == {
        "person": "alice",
        "roles": ["auditor", "spoc"],
        "actor": "person:alice",
    }
    assert browser.get("/audit").json() == {"auditor": "alice"}


def test_the_flow_uses_pkce_and_a_nonce_and_the_cookie_is_httponly_and_lax(browser):
    start = browser.get("/auth/login")
    query = parse_qs(urlsplit(start.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["code_challenge"] and query["nonce"] and query["state"]
    assert query["scope"] == ["openid profile email"]
    cookie = start.headers["set-cookie"].lower()
    assert cookie.startswith(SESSION_COOKIE + "=")
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # plain http on loopback


def test_the_cookie_is_secure_unless_the_host_is_loopback(browser):
    start = browser.get("/auth/login", headers={"Host": "gateway.example"})
    assert start.status_code == 302
    assert "secure" in start.headers["set-cookie"].lower()


def test_values_the_role_map_does_not_name_give_no_role(browser):
    me = sign_in(browser, "bob").json()  # "Finance.Reader", and "isg.spoc" in the wrong case
    assert me["subject"] == "bob" and me["roles"] == []
    body = assert_problem(browser.get("/audit"), 403, "role-required")
    assert "auditor" in body["detail"]


def test_a_single_string_claim_maps_too(browser):
    me = sign_in(browser, "carol").json()
    assert me["roles"] == ["governance"] and me["name"] == "carol"
    assert_problem(browser.get("/audit"), 403, "role-required")


def test_role_mapping():
    assert map_roles({"roles": ["ISG.Dpo", "ISG.Duty"]}, "roles", ROLE_MAP) == {"dpo", "duty"}
    assert map_roles({"roles": "ISG.Dpo"}, "roles", ROLE_MAP) == {"dpo"}
    assert map_roles({"groups": ["ISG.Dpo"]}, "groups", ROLE_MAP) == {"dpo"}
    assert map_roles({"roles": ["ISG.Dpo"]}, "groups", ROLE_MAP) == frozenset()
    assert map_roles({"roles": ["Admin", "isg.dpo", 7, None]}, "roles", ROLE_MAP) == frozenset()
    assert map_roles({"roles": {"ISG.Dpo": True}}, "roles", ROLE_MAP) == frozenset()


def _request_with(session: dict) -> Request:
    return Request({"type": "http", "session": session})


def test_a_sign_in_ends_after_its_max_age_however_active():
    person = session_person({"sub": "alice", "name": "A"}, frozenset({"spoc"}), 60)
    assert signed_in(_request_with({PERSON: person})) == person
    expired = {**person, "expires_at": int(time.time()) - 1}
    assert signed_in(_request_with({PERSON: expired})) is None
    assert signed_in(_request_with({PERSON: {**person, "expires_at": "never"}})) is None
    assert signed_in(Request({"type": "http"})) is None  # sign-in not installed


def test_require_role_names_roles_of_the_gateway():
    with pytest.raises(ValueError, match="admin"):
        require_role("auditor", "admin")
    with pytest.raises(ValueError):
        require_role()
    assert set(ROLES) == {"spoc", "duty", "governance", "auditor", "dpo", "coordinator"}


def test_next_is_kept_through_the_sign_in(browser):
    answer = sign_in(browser, "alice", next_="/whoami?view=short")
    assert answer.url.path == "/whoami" and answer.url.query == b"view=short"
    assert answer.json()["person"] == "alice"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/inbox",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "inbox",
        "/inbox\r\nSet-Cookie: a=b",
        "/\t/evil.example",
    ],
)
def test_next_must_be_a_path_on_this_gateway(browser, target):
    answer = browser.get("/auth/login", params={"next": target})
    assert_problem(answer, 400, "unsafe-redirect")
    assert "location" not in answer.headers


def test_without_a_session_there_is_no_person(browser):
    answer = browser.get("/auth/me")
    assert_problem(answer, 401, "not-signed-in")
    assert answer.headers["www-authenticate"].startswith("Cookie ")
    assert_problem(browser.get("/whoami"), 401, "not-signed-in")
    assert_problem(browser.get("/audit"), 401, "not-signed-in")


def _session_payload(cookie: str) -> dict:
    data = cookie.split(".")[0]
    return json.loads(base64.b64decode(data + "=" * (-len(data) % 4)))


def test_a_tampered_or_forged_cookie_is_not_a_session(browser, gateway_base):
    sign_in(browser, "bob")
    cookie = browser.cookies[SESSION_COOKIE]
    payload = _session_payload(cookie)
    assert payload["person"]["sub"] == "bob"

    # bob gives himself the auditor role, keeping the signature he had
    payload["person"]["roles"] = ["auditor"]
    tampered = base64.b64encode(json.dumps(payload).encode()).decode() + cookie[cookie.index(".") :]
    # a session signed with a key that is not the gateway's
    forged = TimestampSigner("not-the-gateways-secret").sign(
        base64.b64encode(json.dumps(payload).encode())
    )
    for value in (tampered, forged.decode(), cookie[:-2] + "xx"):
        with httpx.Client(base_url=gateway_base, cookies={SESSION_COOKIE: value}) as other:
            assert_problem(other.get("/auth/me"), 401, "not-signed-in")
            assert_problem(other.get("/audit"), 401, "not-signed-in")


def test_logout_needs_the_csrf_token(browser):
    token = sign_in(browser, "alice").json()["csrf_token"]
    assert_problem(browser.post("/auth/logout"), 403, "csrf-rejected")
    wrong = {"X-CSRF-Token": token[:-1] + ("A" if token[-1] != "A" else "B")}
    assert_problem(browser.post("/auth/logout", headers=wrong), 403, "csrf-rejected")
    assert browser.get("/auth/me").status_code == 200  # still signed in

    answer = browser.post("/auth/logout", headers={"X-CSRF-Token": token})
    assert answer.status_code == 204
    assert_problem(browser.get("/auth/me"), 401, "not-signed-in")
    # the old token went with the session
    again = browser.post("/auth/logout", headers={"X-CSRF-Token": token})
    assert_problem(again, 403, "csrf-rejected")


def test_a_form_sends_the_csrf_token_as_a_field(browser):
    token = sign_in(browser, "alice").json()["csrf_token"]
    assert_problem(browser.post("/forms/acknowledge", data={"note": "seen"}), 403, "csrf-rejected")
    answer = browser.post("/forms/acknowledge", data={"note": "seen", "csrf_token": token})
    assert answer.status_code == 204
    answer = browser.post("/auth/logout", data={"csrf_token": token}, params={"next": "/whoami"})
    assert answer.status_code == 303 and answer.headers["location"] == "/whoami"
    assert_problem(browser.get("/whoami"), 401, "not-signed-in")


def test_signing_in_again_starts_a_new_session_and_token(browser):
    first = sign_in(browser, "alice").json()["csrf_token"]
    second = sign_in(browser, "bob").json()
    assert second["subject"] == "bob" and second["csrf_token"] != first


def test_a_callback_the_browser_did_not_start_is_refused(browser):
    answer = browser.get("/auth/callback", params={"code": "stolen", "state": "guessed"})
    assert_problem(answer, 400, "sign-in-failed")
    assert_problem(browser.get("/auth/me"), 401, "not-signed-in")


def test_an_id_token_from_another_issuer_is_refused(provider, tmp_path):
    """The provider names itself without the trailing slash configured here, so the
    ID token's iss is not the configured issuer."""
    port = free_port()
    client_id, secret = provider.register_client(f"http://127.0.0.1:{port}/auth/callback")
    settings = sign_in_settings(
        tmp_path,
        oidc_issuer=provider.issuer + "/",
        oidc_client_id=client_id,
        oidc_client_secret=secret,
    )
    with served(people_app(settings), port) as base, httpx.Client(base_url=base) as client:
        answer = sign_in(client, "alice")
        body = assert_problem(answer, 400, "sign-in-failed")
        assert "iss" in body["detail"]
        assert_problem(client.get("/auth/me"), 401, "not-signed-in")


def test_a_provider_that_does_not_answer_is_a_503(tmp_path):
    settings = sign_in_settings(
        tmp_path, oidc_issuer=f"http://127.0.0.1:{free_port()}", oidc_client_id="isg"
    )
    with served(people_app(settings), free_port()) as base:
        assert_problem(httpx.get(f"{base}/auth/login"), 503, "service-unavailable")


def test_unconfigured_sign_in_answers_404_everywhere(tmp_path):
    app = people_app(sign_in_settings(tmp_path))
    with served(app, free_port()) as base, httpx.Client(base_url=base) as client:
        for answer in (
            client.get("/auth/login"),
            client.get("/auth/callback", params={"code": "c", "state": "s"}),
            client.get("/auth/me"),
            client.post("/auth/logout"),
        ):
            body = assert_problem(answer, 404, "sign-in-not-configured")
            assert "GATEWAY_OIDC_ISSUER" in body["detail"]
        assert_problem(client.get("/whoami"), 401, "not-signed-in")
        assert_problem(client.post("/forms/acknowledge"), 403, "csrf-rejected")
        assert "set-cookie" not in client.get("/whoami").headers
    assert not (tmp_path / SECRET_FILE).exists()


def test_the_embedded_default_keeps_a_session_secret_of_its_own(tmp_path):
    settings = sign_in_settings(tmp_path, oidc_issuer="https://idp.example", oidc_client_id="isg")
    install_sign_in(FastAPI(), settings, tmp_path)
    path = tmp_path / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    secret = path.read_text()
    assert len(secret.strip()) >= 32
    install_sign_in(FastAPI(), settings, tmp_path)
    assert path.read_text() == secret  # kept, so sessions outlive a restart
    other = tmp_path / "other"
    install_sign_in(FastAPI(), settings, other)
    assert (other / SECRET_FILE).read_text() != secret


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({}, "GATEWAY_OIDC_CLIENT_ID"),
        ({"oidc_client_id": "isg", "oidc_role_map": {"ISG.Admin": "admin"}}, "admin"),
        (
            {"oidc_client_id": "isg", "database_url": "postgresql://db/gateway"},
            "GATEWAY_SESSION_SECRET must be set",
        ),
        ({"oidc_client_id": "isg", "session_secret": "short"}, "at least 32"),
    ],
)
def test_incomplete_configuration_is_refused_at_start(tmp_path, overrides, message):
    settings = sign_in_settings(tmp_path, oidc_issuer="https://idp.example", **overrides)
    with pytest.raises(SignInConfigError, match=message):
        install_sign_in(FastAPI(), settings, tmp_path)


def test_outside_the_embedded_default_a_configured_session_secret_is_used(tmp_path):
    settings = sign_in_settings(
        tmp_path,
        oidc_issuer="https://idp.example",
        oidc_client_id="isg",
        database_url="postgresql://db/gateway",
        session_secret="s" * 32,
    )
    install_sign_in(FastAPI(), settings, tmp_path)
    assert not (tmp_path / SECRET_FILE).exists()


def test_the_gateway_app_installs_sign_in(gateway):
    """create_app wires it in: unconfigured in the shared test gateway."""
    with gateway.client() as client:
        assert_problem(client.get("/auth/me"), 404, "sign-in-not-configured")
