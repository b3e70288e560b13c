"""The ``gateway`` command as an operator meets it: its help, its version, what it reports."""

from __future__ import annotations

import os
from importlib.metadata import version

import pytest
import typer.main
from typer.testing import CliRunner

from gateway.audit import AuditEntry
from gateway.cli import app
from gateway.store import Store
from gateway.store.audit_log import append

runner = CliRunner()


def _command_paths(command: object, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [path]
    for name, sub in getattr(command, "commands", {}).items():  # a group's commands
        paths += _command_paths(sub, (*path, name))
    return paths


COMMANDS = _command_paths(typer.main.get_command(app))


def test_every_command_is_reached():
    assert {("serve",), ("dlq", "replay"), ("policy", "lint"), ("audit", "verify")} <= set(COMMANDS)


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "gateway")
def test_help_is_plain_text(path):
    """Docstrings become help: no reStructuredText markup may leak into it."""
    result = runner.invoke(app, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "``" not in result.output
    assert "::" not in result.output


def test_version_is_the_installed_package():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"isg-gateway {version('isg-gateway')}"


def test_audit_verify_names_the_algorithm_the_entries_record(tmp_path, monkeypatch):
    for key in [k for k in os.environ if k.startswith("GATEWAY_")]:
        monkeypatch.delenv(key)
    store = Store.from_url(f"sqlite:///{tmp_path / 'gateway.db'}")
    store.upgrade()
    with store.transaction() as conn:
        append(
            conn,
            [
                AuditEntry(action="collection", actor="cheshire-police", details={})
                for _ in range(3)
            ],
        )
    with store.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT DISTINCT hash_alg FROM audit_log").scalar_one()
    store.engine.dispose()
    result = runner.invoke(app, ["audit", "verify", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert f"\naudit chain intact: 3 entries verified ({stored})\n" in f"\n{result.output}"
