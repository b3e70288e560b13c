"""The partners file: strict, keys from the environment, the shipped example loads."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gateway.delivery.partners import load_partners
from gateway.delivery.signing import encode_secret
from gateway.errors import PartnersConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "partners.example.yaml"


KEY = bytes(range(32))


def test_the_shipped_example_loads_with_its_key_in_the_environment(monkeypatch):
    monkeypatch.setenv("ISG_WEBHOOK_KEY_VICTIM_ADVOCATES", encode_secret(KEY))
    config = load_partners(EXAMPLE)
    assert config.webhooks()["victim-advocates"].key() == KEY
    assert config.formats() == {"mersey-care-forensic": "fhir"}


def test_a_missing_key_fails_at_load_not_at_delivery(monkeypatch):
    monkeypatch.delenv("ISG_WEBHOOK_KEY_VICTIM_ADVOCATES", raising=False)
    with pytest.raises(PartnersConfigError, match="ISG_WEBHOOK_KEY_VICTIM_ADVOCATES"):
        load_partners(EXAMPLE)


def test_unknown_fields_are_errors_naming_the_field(tmp_path):
    path = tmp_path / "partners.yaml"
    path.write_text("partners:\n  a:\n    webhok: {}\n")
    with pytest.raises(PartnersConfigError) as caught:
        load_partners(path)
    assert any("webhok" in p.field for p in caught.value.problems)


def test_exactly_one_key_source(tmp_path):
    path = tmp_path / "partners.yaml"
    path.write_text("partners:\n  a:\n    webhook: {url: 'https://a.example/h'}\n")
    with pytest.raises(PartnersConfigError):
        load_partners(path)


def _webhook(tmp_path, url: str, key: str) -> Path:
    path = tmp_path / "partners.yaml"
    path.write_text(
        yaml.safe_dump({"partners": {"a": {"webhook": {"url": url, "signing_key": key}}}})
    )
    return path


@pytest.mark.parametrize(
    "url",
    [
        "https://advocacy.example.org/hook",
        "http://127.0.0.1:8000/hook",
        "http://127.8.9.10/hook",
        "http://[::1]:8000/hook",
        "http://localhost:8000/hook",
    ],
)
def test_https_anywhere_and_plain_http_only_to_loopback(tmp_path, url):
    assert str(load_partners(_webhook(tmp_path, url, encode_secret(KEY))).webhooks()["a"].url)


@pytest.mark.parametrize(
    "url",
    ["http://advocacy.example.org/hook", "http://10.0.0.5/hook", "http://[fe80::1]/hook"],
)
def test_plain_http_to_any_other_host_is_refused(tmp_path, url):
    with pytest.raises(PartnersConfigError) as caught:
        load_partners(_webhook(tmp_path, url, encode_secret(KEY)))
    (problem,) = caught.value.problems
    assert problem.field == "partners.a.webhook.url"
    assert "must be https" in problem.message


@pytest.mark.parametrize(
    ("key", "says"),
    [
        (encode_secret(KEY[:31]), "is 31 bytes long; at least 32 are needed"),
        (KEY.hex(), "not a Standard Webhooks secret"),
        ("whsec_not base64!", "not base64"),
    ],
)
def test_a_key_must_be_a_standard_webhooks_secret_of_at_least_32_bytes(tmp_path, key, says):
    with pytest.raises(PartnersConfigError, match=says) as caught:
        load_partners(_webhook(tmp_path, "https://a.example/h", key))
    assert "partners.yaml: a: the webhook signing key in the inline signing_key" in str(
        caught.value
    )


def test_a_short_key_in_the_environment_names_the_variable(monkeypatch):
    monkeypatch.setenv("ISG_WEBHOOK_KEY_VICTIM_ADVOCATES", encode_secret(b"short"))
    with pytest.raises(PartnersConfigError, match="ISG_WEBHOOK_KEY_VICTIM_ADVOCATES is 5 bytes"):
        load_partners(EXAMPLE)
