"""The embedded default's data directory is its owner's alone, and it has a
pseudonymisation key of its own; ``serve`` keeps the embedded default on loopback."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli import app
from gateway.embedded.data_dir import make_private, pseudonym_key
from gateway.runtime import Runtime
from gateway.settings import Settings
from tests.conftest import TEST_KEY

runner = CliRunner()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def clean_env(monkeypatch):
    for key in [k for k in os.environ if k.startswith("GATEWAY_")]:
        monkeypatch.delenv(key)


def test_the_embedded_default_keeps_its_directory_0700_and_its_files_0600(tmp_path, clean_env):
    data_dir = tmp_path / "data"
    runtime = Runtime(Settings(data_dir=data_dir)).start()
    try:
        with runtime.store.transaction():  # the first write makes the writer lock
            pass
        made = {p.relative_to(data_dir).as_posix(): mode(p) for p in data_dir.rglob("*")}
    finally:
        runtime.stop()
    assert mode(data_dir) == 0o700
    for name in ("gateway.db", "gateway.db.writer-lock", "runtime.json", "pseudonym.key"):
        assert made.pop(name) == 0o600, name
    assert made.pop("broker.log") == 0o600
    # Whatever else is there (SQLite's -wal and -shm, the sample clients' keys) too.
    assert {name: m for name, m in made.items() if m not in (0o600, 0o700)} == {}


def test_the_pseudonym_key_is_random_per_data_directory_and_kept(tmp_path):
    first, second = pseudonym_key(tmp_path / "a"), pseudonym_key(tmp_path / "b")
    assert first != second and len(first) >= 32
    assert pseudonym_key(tmp_path / "a") == first  # the same key on every start
    assert mode(tmp_path / "a" / "pseudonym.key") == 0o600
    assert mode(tmp_path / "a") == 0o700
    assert b"embedded-default-not-secret" not in (first, second)


def test_a_configured_key_overrides_the_data_directorys(tmp_path, broker, clean_env):
    settings = Settings(data_dir=tmp_path, kafka_bootstrap=broker.bootstrap, pseudonym_key=TEST_KEY)
    runtime = Runtime(settings, run_relay=False).start()
    try:
        assert runtime.pipeline.pseudonym_key == TEST_KEY.encode()
    finally:
        runtime.stop()
    assert not (tmp_path / "pseudonym.key").exists()


def test_an_existing_directory_is_brought_back_to_its_owner(tmp_path):
    loose = tmp_path / "data"
    (loose / "keys").mkdir(parents=True)
    (loose / "keys" / "k.json").write_text("{}")
    os.chmod(loose, 0o755)
    os.chmod(loose / "keys" / "k.json", 0o644)
    (loose / "elsewhere").symlink_to(tmp_path)
    make_private(loose)
    assert (mode(loose), mode(loose / "keys"), mode(loose / "keys" / "k.json")) == (
        0o700,
        0o700,
        0o600,
    )
    assert mode(tmp_path) != 0o600  # a link is not followed


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "gateway.example.org"])
def test_serve_refuses_a_host_other_machines_reach_on_the_embedded_default(
    tmp_path, clean_env, host
):
    result = runner.invoke(app, ["serve", "--host", host, "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 2
    assert "listens on this machine only" in result.output
    assert "GATEWAY_DATABASE_URL" in result.output
    assert not (tmp_path / "d").exists()  # refused before anything started


def test_serve_lets_an_external_deployment_listen_anywhere(tmp_path, clean_env, monkeypatch):
    """Past the host check, start-up goes on (and here stops at the missing key)."""
    monkeypatch.setenv("GATEWAY_DATABASE_URL", f"sqlite:///{tmp_path / 'g.db'}")
    monkeypatch.setenv("GATEWAY_KAFKA_BOOTSTRAP", "127.0.0.1:9")
    result = runner.invoke(app, ["serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "listens on this machine only" not in result.output
    assert "GATEWAY_PSEUDONYM_KEY must be set" in result.output
