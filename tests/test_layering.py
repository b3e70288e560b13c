"""The tree's layering, read from the source: which package may import which, and no
module reaching into another module's private names."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gateway", "adapters", "contracts")


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            yield name.removesuffix(".__init__"), ast.parse(path.read_text(), str(path))


def _imports(tree: ast.Module) -> Iterator[tuple[str, list[str]]]:
    """(module imported, names taken from it) for every absolute import."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []


def test_no_module_imports_another_modules_private_names():
    private = [
        f"{name}: from {module} import {taken}"
        for name, tree in _modules()
        for module, names in _imports(tree)
        if module != "__future__"
        for taken in names
        if taken.startswith("_") and not taken.startswith("__")
    ]
    assert private == []


def _imported_by(prefix: str) -> set[str]:
    return {
        module
        for name, tree in _modules()
        if name == prefix or name.startswith(prefix + ".")
        for module, _ in _imports(tree)
    }


def test_the_audit_trail_does_not_import_the_store():
    """The store appends audit entries (gateway.store.audit_log), so the audit package
    must not reach back into the store."""
    assert not {m for m in _imported_by("gateway.audit") if m.startswith("gateway.store")}


def test_policy_compilation_does_not_import_the_bundle():
    """compile_flows takes its inputs: the bundle calls it, never the other way."""
    assert "gateway.policy.bundle" not in _imported_by("gateway.policy.compile")


def test_the_deliver_stage_only_builds_rows():
    """Committing lives under gateway.store; the stage imports no SQL machinery."""
    imported = _imported_by("gateway.pipeline.deliver")
    assert not {m for m in imported if m.startswith("sqlalchemy")}
    assert imported & {"gateway.store.commit"}
