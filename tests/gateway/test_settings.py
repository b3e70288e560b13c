"""The one settings object: strict, secret-safe, embedded by default."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.settings import load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    import os

    for key in list(os.environ):
        if key.startswith("GATEWAY_"):
            monkeypatch.delenv(key)


def test_nothing_configured_is_the_embedded_default(tmp_path):
    settings = load_settings(data_dir=tmp_path)
    assert settings.embedded
    assert settings.store_url == f"sqlite:///{(tmp_path / 'gateway.db').resolve()}"
    assert settings.pseudonym_key is None
    settings.require_production_secrets()  # it makes a key of its own per data directory


def test_unknown_gateway_variable_is_an_error(monkeypatch):
    monkeypatch.setenv("GATEWAY_DATABSE_URL", "postgresql:///typo")
    with pytest.raises(ValueError, match="GATEWAY_DATABSE_URL"):
        load_settings()


def test_plain_postgresql_url_uses_psycopg3(monkeypatch):
    monkeypatch.setenv("GATEWAY_DATABASE_URL", "postgresql://db.example/gateway")
    assert load_settings().store_url == "postgresql+psycopg://db.example/gateway"


def test_unsupported_store_is_refused(monkeypatch):
    monkeypatch.setenv("GATEWAY_DATABASE_URL", "mysql://db/gateway")
    with pytest.raises(ValidationError, match="database_url"):
        load_settings()


def test_no_key_of_its_own_is_refused_outside_embedded_default(monkeypatch):
    monkeypatch.setenv("GATEWAY_KAFKA_BOOTSTRAP", "kafka.example:9092")
    settings = load_settings()
    with pytest.raises(ValueError, match="GATEWAY_PSEUDONYM_KEY"):
        settings.require_production_secrets()
    monkeypatch.setenv("GATEWAY_PSEUDONYM_KEY", "")
    with pytest.raises(ValueError, match="GATEWAY_PSEUDONYM_KEY"):
        load_settings().require_production_secrets()
    monkeypatch.setenv("GATEWAY_PSEUDONYM_KEY", "a-real-key")
    load_settings().require_production_secrets()


def test_secrets_are_never_printed(monkeypatch):
    monkeypatch.setenv("GATEWAY_PSEUDONYM_KEY", "top-secret-value")
    settings = load_settings()
    assert "top-secret-value" not in repr(settings)
    assert "top-secret-value" not in str(settings.model_dump())


def test_loading_the_settings_does_not_import_the_store():
    """Tools that only read settings start fast: SQLAlchemy loads with the store."""
    import subprocess
    import sys

    check = "import gateway.settings, sys; assert 'sqlalchemy' not in sys.modules"
    subprocess.run([sys.executable, "-c", check], check=True)
