"""The partners file: strict, keys from the environment, the shipped example loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.delivery.partners import load_partners
from gateway.errors import PartnersConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "partners.example.yaml"


def test_the_shipped_example_loads_with_its_key_in_the_environment(monkeypatch):
    monkeypatch.setenv("ISG_WEBHOOK_KEY_VICTIM_ADVOCATES", "k")
    config = load_partners(EXAMPLE)
    assert config.webhooks()["victim-advocates"].key() == b"k"
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
    path.write_text("partners:\n  a:\n    webhook: {url: 'http://127.0.0.1:1/h'}\n")
    with pytest.raises(PartnersConfigError):
        load_partners(path)
