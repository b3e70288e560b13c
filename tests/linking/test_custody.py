"""The linking key is the data custodian's: configured, or made once per embedded
data directory, never the pseudonym key; off outside the embedded default."""

from __future__ import annotations

import stat

import pytest

from gateway.embedded.data_dir import linking_key, pseudonym_key
from gateway.linking import LinkingKeyMissing, custodian_key, require_key
from gateway.settings import Settings


def test_the_embedded_default_makes_its_own_key_once(tmp_path):
    settings = Settings(data_dir=tmp_path)
    first = custodian_key(settings)
    assert first and first == custodian_key(settings)  # kept: the same persons next start
    assert stat.S_IMODE((tmp_path / "linking.key").stat().st_mode) == 0o600
    assert first != pseudonym_key(tmp_path)
    assert linking_key(tmp_path / "other") != first


def test_a_configured_key_wins_and_outside_the_embedded_default_none_means_off(tmp_path):
    configured = Settings(data_dir=tmp_path, linking_key="custodian-secret")
    assert custodian_key(configured) == b"custodian-secret"
    assert not (tmp_path / "linking.key").exists()
    external = Settings(data_dir=tmp_path, database_url="postgresql+psycopg:///x")
    assert custodian_key(external) is None
    with pytest.raises(LinkingKeyMissing, match="GATEWAY_LINKING_KEY is not set"):
        require_key(external)
    assert "custodian-secret" not in repr(configured)
