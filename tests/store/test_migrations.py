"""Migrations: `gateway db upgrade` brings a store to head; a store that is behind is refused."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from typer.testing import CliRunner

from gateway.cli import app
from gateway.runtime import Runtime, StoreBehind
from gateway.settings import Settings
from gateway.store import Store
from gateway.store.tables import metadata
from tests.conftest import STORES, TEST_KEY


@pytest.mark.parametrize("kind", STORES)
def test_db_upgrade_creates_every_table(kind, store_url_factory, monkeypatch):
    url = store_url_factory(kind)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", url)
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    store = Store.from_url(url)
    assert f"store at migration {store.head_revision()}" in result.output
    tables = set(sa.inspect(store.engine).get_table_names())
    assert set(metadata.tables) <= tables
    again = CliRunner().invoke(app, ["db", "upgrade"])  # idempotent
    assert again.exit_code == 0
    store.engine.dispose()


@pytest.mark.parametrize("kind", STORES)
def test_gateway_refuses_a_store_that_is_behind(kind, store_url_factory, broker, tmp_path):
    url = store_url_factory(kind)
    store = Store.from_url(url)
    with store.engine.begin() as conn:
        command.upgrade(store._alembic_config(conn), "0001")
    settings = Settings(
        data_dir=tmp_path,
        database_url=url,
        kafka_bootstrap=broker.bootstrap,
        pseudonym_key=TEST_KEY,
    )
    runtime = Runtime(settings)
    with pytest.raises(StoreBehind, match="gateway db upgrade"):
        runtime.start()
    runtime.stop()
    store.engine.dispose()


def test_embedded_default_migrates_itself(tmp_path, broker):
    """No database configured: the SQLite store in the data dir is created and migrated."""
    settings = Settings(data_dir=tmp_path, kafka_bootstrap=broker.bootstrap, pseudonym_key=TEST_KEY)
    runtime = Runtime(settings).start()
    try:
        assert runtime.store.revision() == runtime.store.head_revision()
        assert (tmp_path / "gateway.db").exists()
    finally:
        runtime.stop()
