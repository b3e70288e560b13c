"""Whatever a client sends, a mistake is a 4xx problem, never a 500, and keeps nothing."""

from __future__ import annotations

import pytest

from tests.adapters.helpers import ADAPTERS

NASTY = {
    "empty": b"",
    "null": b"null",
    "list": b"[]",
    "object": b"{}",
    "number": b"42",
    "truncated": b'{"format": ',
    "not-utf8": b"\xff\xfe\x00",
    "deep": b"[" * 100_000 + b"]" * 100_000,
    "wrong-types": b'{"format": 1, "purpose": [], "persons": "x"}',
    "huge-string": b'{"format": "' + b"x" * 200_000 + b'"}',
    "nul": b'{"format": "police-crime/1\\u0000"}',
}


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize("name", NASTY)
def test_nasty_body_is_a_4xx_problem(gateway, adapter, name):
    media = {"police": "application/json", "fhir": "application/fhir+json"}.get(
        adapter, "application/json"
    )
    before = gateway.count_rows()
    with gateway.client() as client:
        response = client.post(
            f"/v1/inbound/{adapter}",
            content=NASTY[name],
            headers={"Content-Type": media},
        )
    assert 400 <= response.status_code < 500, response.text[:500]
    assert response.headers["content-type"].startswith("application/problem+json")
    assert gateway.count_rows() == before


CSV_NASTY = {
    "empty": b"",
    "header-only": b"occurrence_number\n",
    "ragged": b"a,b,c\n1\n1,2,3,4,5\n",
    "not-utf8": b"\xff\xfe,\x00\n",
    "quote-storm": b'"' * 10_000,
    "binary": bytes(range(256)) * 10,
}


@pytest.mark.parametrize("name", CSV_NASTY)
def test_nasty_csv_is_a_4xx_problem(gateway, name):
    before = gateway.count_rows()
    with gateway.client() as client:
        response = client.post(
            "/v1/inbound/police",
            content=CSV_NASTY[name],
            headers={"Content-Type": "text/csv"},
        )
    assert 400 <= response.status_code < 500, response.text[:500]
    assert gateway.count_rows() == before


@pytest.mark.parametrize(
    "exchange_id",
    ["%00", "abc%00def", "%FF", "x" * 300, "00000000-0000-0000-0000-00000000000%00", "'--"],
)
def test_an_exchange_id_of_any_other_shape_is_a_404_on_each_store(gateway, exchange_id):
    """A NUL byte in a path parameter had been a 500 on PostgreSQL (its text cannot
    hold one): an id is checked for the shape the gateway writes before any query."""
    with gateway.client() as client:
        response = client.get(f"/v1/exchanges/{exchange_id}")
    assert response.status_code == 404, response.text[:500]
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith("/not-found")


@pytest.mark.parametrize("character", ["\x00", "\x1b"])
def test_a_control_character_in_a_text_field_is_a_422_naming_it_on_each_store(
    gateway, police_sample, character
):
    """Refused before the store, which on PostgreSQL cannot hold a NUL."""
    body = police_sample.replace(b'"Marsh"', b'"Marsh\\u%04x"' % ord(character))
    before = gateway.count_rows()
    with gateway.client() as client:
        response = client.post(
            "/v1/inbound/police", content=body, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 422, response.text[:500]
    assert response.json()["problems"][0]["field"] == "persons[0].surname"
    assert gateway.count_rows() == before
