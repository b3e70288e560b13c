"""The OpenAPI document a partner builds a client from: who may call each operation,
a body per format and media type, typed answers, every error as problem+json."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator, FormatChecker

from gateway.api import openapi
from gateway.api.auth import JWKS_PATH, TOKEN_PATH
from tests.api.conftest import sqlite_gateway
from tests.conftest import EXAMPLES

PUBLIC = {
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", JWKS_PATH),
    ("post", TOKEN_PATH),
    ("get", "/v1/adapters"),
    ("get", "/metrics"),
    ("get", "/v1/audit/keys"),
}


@pytest.fixture(scope="module")
def spec(api_gateway) -> dict[str, Any]:
    return httpx.get(f"{api_gateway.base_url}/openapi.json").json()


def _operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method, path): op for method, path, op in openapi.operations(spec)}


def _valid(spec: dict[str, Any], schema: dict[str, Any], instance: Any) -> None:
    """``instance`` against ``schema`` (its references into the document), formats checked."""
    validator = Draft202012Validator({**spec, **schema}, format_checker=FormatChecker())
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)]
    assert errors == []


def _answer_schema(spec: dict[str, Any], path: str, method: str, status: int) -> dict[str, Any]:
    content = spec["paths"][path][method]["responses"][str(status)]["content"]
    (media_type,) = content
    return dict(content[media_type]["schema"])


def test_every_route_is_described_by_the_table(api_gateway, spec):
    """A route added without its entry in ``openapi.OPERATIONS`` (its scopes, answers
    and errors) fails here, and an entry left behind by a removed route too."""
    formats = api_gateway.runtime.registry.names()
    per_format = {("post", f"/v1/inbound/{fmt}") for fmt in formats}
    assert set(_operations(spec)) - per_format == set(openapi.OPERATIONS)


def test_protected_operations_name_the_scopes_they_need(spec):
    for key, op in _operations(spec).items():
        if key in PUBLIC:
            assert "security" not in op, key
        elif key[1].startswith("/auth/") or getattr(openapi.OPERATIONS.get(key), "session", False):
            assert op.get("security", [{openapi.SESSION: []}]) == [{openapi.SESSION: []}], key
        else:
            (scopes,) = {tuple(s) for requirement in op["security"] for s in requirement.values()}
            assert scopes and set(scopes) <= set(openapi.SCOPES), key
    assert _operations(spec)[("post", "/v1/inbound/{fmt}")]["security"] == [
        {openapi.OAUTH2: ["submit"]},
        {openapi.BEARER: ["submit"]},
    ]
    assert _operations(spec)[("get", "/v1/exchanges/{exchange_id}")]["security"][0] == {
        openapi.OAUTH2: ["exchanges:read"]
    }
    flow = spec["components"]["securitySchemes"][openapi.OAUTH2]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == TOKEN_PATH
    assert set(flow["scopes"]) == {"submit", "exchanges:read", "deliveries:read", "acknowledge"}


def test_a_body_per_format_and_media_type(api_gateway, spec):
    registry = api_gateway.runtime.registry
    inbound = spec["paths"]["/v1/inbound/{fmt}"]["post"]
    (fmt,) = [p for p in inbound["parameters"] if p["name"] == "fmt"]
    assert fmt["schema"]["enum"] == registry.names()
    every = {m for adapter in registry.adapters.values() for m in adapter.media_types}
    assert set(inbound["requestBody"]["content"]) == every
    for name, adapter in registry.adapters.items():
        own = spec["paths"][f"/v1/inbound/{name}"]["post"]
        assert own["operationId"] == f"submit_{name}"
        assert list(own["requestBody"]["content"]) == list(adapter.media_types)
        assert "fmt" not in {p["name"] for p in own["parameters"]}
    police = spec["paths"]["/v1/inbound/police"]["post"]["requestBody"]["content"]
    assert police["application/json"]["schema"] == {
        "anyOf": [
            {"$ref": "#/components/schemas/police.PoliceCrimeRecord"},
            {"$ref": "#/components/schemas/police.ScreeningBatch"},
        ]
    }
    assert police["text/csv"]["schema"]["type"] == "string"
    assert "police.ScreeningRow" in police["text/csv"]["schema"]["description"]
    fhir = spec["paths"]["/v1/inbound/fhir"]["post"]["requestBody"]["content"]
    assert set(fhir) == {"application/fhir+json", "application/json", "application/fhir+xml"}
    flag = spec["components"]["schemas"]["fhir.Flag"]
    assert flag["properties"]["resourceType"] == {"const": "Flag"}


def test_the_samples_match_their_formats_schemas(spec):
    """Every JSON sample in examples/ is valid against its format's documented body."""
    checked = 0
    for sample in sorted(EXAMPLES.glob("*/*.json")):
        fmt = sample.parent.name
        content = spec["paths"][f"/v1/inbound/{fmt}"]["post"]["requestBody"]["content"]
        media_type = "application/fhir+json" if fmt == "fhir" else "application/json"
        _valid(spec, content[media_type]["schema"], json.loads(sample.read_text(encoding="utf-8")))
        checked += 1
    assert checked >= 20


def test_every_reference_resolves_and_every_schema_is_json_schema(spec):
    text = json.dumps(spec)
    for ref in set(re.findall(r'"\$ref": ?"#/components/schemas/([^"]+)"', text)):
        assert ref in spec["components"]["schemas"], ref
    for schema in spec["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_every_model_has_a_name_of_its_own(spec):
    """Client generators name a model by its title: three formats' ``NativeAddress``
    would be one class, or none."""
    titles = Counter(schema.get("title") for schema in spec["components"]["schemas"].values())
    assert [title for title, count in titles.items() if count > 1] == []
    assert spec["components"]["schemas"]["police.NativeAddress"]["title"] == "PoliceNativeAddress"


def test_every_error_is_problem_json_naming_its_problem_types(spec):
    for (_, path), op in _operations(spec).items():
        for status, answer in op["responses"].items():
            if int(status) < 400:
                continue
            assert list(answer["content"]) == ["application/problem+json"], (path, status)
            ref = answer["content"]["application/problem+json"]["schema"]["$ref"]
            assert ref.rsplit("/", 1)[1] in {"Problem", "TokenProblem"}
    inbound = _operations(spec)[("post", "/v1/inbound/{fmt}")]["responses"]
    assert set(inbound) == {"202", *map(str, (400, 401, 403, 404, 409, 413, 415, 422, 429, 503))}
    assert "`too-many-requests`" in inbound["429"]["description"]
    assert "Retry-After" in inbound["429"]["headers"]
    assert "WWW-Authenticate" in inbound["401"]["headers"]
    problem = spec["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "instance", "problems"} <= set(
        problem["properties"]
    )


def test_the_token_request_and_answer_are_documented(api_gateway, spec):
    token = spec["paths"][TOKEN_PATH]["post"]
    form = token["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    request = spec["components"]["schemas"][form["$ref"].rsplit("/", 1)[1]]
    assert {"grant_type", "client_assertion_type", "client_assertion", "scope"} <= set(
        request["properties"]
    )
    answer = httpx.post(
        f"{api_gateway.base_url}{TOKEN_PATH}",
        data={"grant_type": "client_credentials", "client_assertion": "not.a.jwt"},
    )
    assert answer.status_code in (400, 401)
    _valid(spec, _answer_schema(spec, TOKEN_PATH, "post", answer.status_code), answer.json())


def test_the_answers_are_as_documented_formats_included(api_gateway, spec, police_sample):
    """Real answers against the document, string formats too (schemathesis leaves them
    unchecked): a ``date-time`` carries its offset, on SQLite too."""
    with api_gateway.client() as client:
        single = client.post(
            "/v1/inbound/police",
            content=police_sample,
            headers={"Content-Type": "application/json"},
        )
        batch = client.post(
            "/v1/inbound/police",
            content=(EXAMPLES / "police" / "daily-screening-with-bad-rows.csv").read_bytes(),
            headers={"Content-Type": "text/csv"},
        )
        api_gateway.wait_drained()
        exchange = client.get(f"/v1/exchanges/{single.json()['exchange_id']}")
        missing = client.get("/v1/exchanges/01a00000-0000-7000-8000-000000000000")
    inbound = "/v1/inbound/{fmt}"
    assert single.status_code == batch.status_code == 202
    _valid(spec, _answer_schema(spec, inbound, "post", 202), single.json())
    assert batch.json()["rejected"] > 0
    _valid(spec, _answer_schema(spec, inbound, "post", 202), batch.json())
    assert exchange.status_code == 200
    assert {d["status"] for d in exchange.json()["deliveries"]} == {"sent"}
    _valid(spec, _answer_schema(spec, "/v1/exchanges/{exchange_id}", "get", 200), exchange.json())
    moments = [exchange.json()["submitted_at"]] + [d["at"] for d in exchange.json()["deliveries"]]
    assert all(datetime.fromisoformat(moment).tzinfo is not None for moment in moments)
    assert missing.status_code == 404
    _valid(spec, _answer_schema(spec, "/v1/exchanges/{exchange_id}", "get", 404), missing.json())


def test_without_api_docs_there_is_no_document_and_no_pages(broker, tmp_path):
    with sqlite_gateway(broker.bootstrap, tmp_path, api_docs=False) as running:
        for path in ("/openapi.json", "/docs", "/redoc", "/docs/assets/swagger-ui-bundle.js"):
            assert httpx.get(f"{running.base_url}{path}").status_code == 404, path


def test_too_many_requests_is_answered_as_documented(broker, tmp_path):
    with sqlite_gateway(broker.bootstrap, tmp_path, rate_limit_per_address="1/minute") as running:
        spec = httpx.get(f"{running.base_url}/openapi.json").json()
        answers = [httpx.post(f"{running.base_url}{TOKEN_PATH}", data={}) for _ in range(2)]
    assert [a.status_code for a in answers] == [400, 429]
    documented = spec["paths"][TOKEN_PATH]["post"]["responses"]["429"]
    assert all(header in answers[1].headers for header in documented["headers"])
    _valid(spec, _answer_schema(spec, TOKEN_PATH, "post", 429), answers[1].json())


def test_each_refusal_of_a_submission_is_as_documented(api_gateway, spec, police_sample):
    """Every status the document gives the inbound operation, provoked, answers as
    documented (problem+json of the documented shape, the documented headers)."""
    base, json_type = api_gateway.base_url, {"Content-Type": "application/json"}
    police, key = f"{base}/v1/inbound/police", {"Idempotency-Key": "refusals-1"}
    submitter = api_gateway.auth("cheshire-police")
    too_large = b" " * (api_gateway.runtime.settings.max_body_bytes + 1)
    refusals = {
        400: httpx.post(police, content=b"{", headers={**submitter, **json_type}),
        401: httpx.post(police, content=police_sample, headers=json_type),
        403: httpx.post(
            police,
            content=police_sample,
            headers={**api_gateway.auth("cheshire-police", "exchanges:read"), **json_type},
        ),
        404: httpx.post(f"{base}/v1/inbound/nope", content=b"{}", headers=submitter),
        409: [
            httpx.post(police, content=body, headers={**submitter, **json_type, **key})
            for body in (police_sample, police_sample + b" ")
        ][-1],
        413: httpx.post(police, content=too_large, headers={**submitter, **json_type}),
        415: httpx.post(police, content=b"x", headers={**submitter, "Content-Type": "text/plain"}),
        422: httpx.post(police, content=b"{}", headers={**submitter, **json_type}),
    }
    documented = spec["paths"]["/v1/inbound/{fmt}"]["post"]["responses"]
    for status, answer in refusals.items():
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert all(
            header in answer.headers for header in documented[str(status)].get("headers", {})
        )
        _valid(spec, _answer_schema(spec, "/v1/inbound/{fmt}", "post", status), answer.json())
