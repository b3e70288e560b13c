"""The published schemas work in editors: the YAML language server that VS Code and
other editors run reads the `yaml-language-server` header of our policy files, flags
mistakes on the right line, and completes canonical field paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.policy.lsp_client import ROOT, YamlLanguageServer

ERROR = 1
AGREEMENTS = [ROOT / "policies" / "cheshire-hru", ROOT / "policies" / "west-midlands-easi"]
POLICY_FILES = sorted(p for d in AGREEMENTS for p in d.glob("*.yaml")) + sorted(
    p for d in AGREEMENTS for p in (d / "tests").glob("*.yaml")
)


@pytest.fixture(scope="module")
def server():
    running = YamlLanguageServer()
    yield running
    running.close()


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_sample_files_have_no_editor_errors(server, path: Path):
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=")
    errors = [d for d in server.diagnostics(path, text) if d.get("severity") == ERROR]
    assert errors == []


def test_editor_flags_a_wrong_type_and_an_unknown_key_on_their_lines(server):
    path = ROOT / "policies" / "cheshire-hru" / "flows.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("lawful_basis:"))
    indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
    lines[at] = f"{indent}lawful_basis: 42"
    lines.insert(at + 1, f"{indent}colour: blue")
    found = {
        (d["range"]["start"]["line"], d["message"])
        for d in server.diagnostics(path, "\n".join(lines) + "\n", version=2)
        if d.get("severity") == ERROR
    }
    assert any(line == at and "Incorrect type" in msg for line, msg in found)
    assert any(line == at + 1 and "colour" in msg for line, msg in found)


def test_editor_completes_canonical_field_paths(server):
    path = ROOT / "policies" / "cheshire-hru" / "flows.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip() == "- payload.crime.offence")
    indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
    lines.insert(at + 1, f"{indent}- pay")
    labels = server.completions(path, "\n".join(lines) + "\n", at + 1, len(indent) + 5)
    assert "payload.crime.offence" in labels
    assert "subjects[].identifiers" in labels or "subjects[].identifiers[]" in labels
