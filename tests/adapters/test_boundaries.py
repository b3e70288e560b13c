"""Each adapter package stands alone: it imports the kit (``adapters.base``,
``adapters.meetings``) and ``contracts``, never another adapter.

Code two formats share belongs in the kit, and identifier formats in
``contracts``; otherwise removing or replacing one adapter breaks another.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ADAPTERS_DIR = Path(__file__).resolve().parents[2] / "adapters"
PACKAGES = sorted(p.parent.name for p in ADAPTERS_DIR.glob("*/__init__.py"))
KIT = sorted(p for p in ADAPTERS_DIR.glob("*.py"))


def _imported(path: Path, package: str) -> set[str]:
    """Every module ``path`` imports; ``package`` is the package ``path`` belongs to."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # ``from ..probation import x``: up from the module's package
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            modules.add(base)
            # ``from adapters import probation`` imports a package by name
            modules.update(f"{base}.{alias.name}" for alias in node.names)
    return modules


def _adapters_named(modules: set[str]) -> set[str]:
    return {m.split(".")[1] for m in modules if m.startswith("adapters.")} & set(PACKAGES)


def _package_of(path: Path) -> str:
    return ".".join(path.relative_to(ADAPTERS_DIR.parent).with_suffix("").parts[:-1])


def test_there_are_adapter_packages_to_check():
    assert {"fhir", "mappa", "marac", "police", "probation"} <= set(PACKAGES)


@pytest.mark.parametrize("name", PACKAGES)
def test_an_adapter_imports_no_other_adapter(name):
    for path in sorted((ADAPTERS_DIR / name).rglob("*.py")):
        others = _adapters_named(_imported(path, _package_of(path))) - {name}
        assert not others, f"{path.relative_to(ADAPTERS_DIR.parent)} imports {sorted(others)}"


@pytest.mark.parametrize("path", KIT, ids=lambda p: p.name)
def test_the_kit_imports_no_adapter(path):
    assert not _adapters_named(_imported(path, "adapters")), path.name


def test_the_check_sees_each_way_of_importing_an_adapter(tmp_path):
    cases = {
        "import adapters.probation.native": {"probation"},
        "from adapters.probation.native import CRN_PATTERN": {"probation"},
        "from adapters import probation": {"probation"},
        "from ..probation import native": {"probation"},
        "from . import native": {"mappa"},
        "from adapters.base import NativeModel": set(),
    }
    for source, expected in cases.items():
        module = tmp_path / "mapping.py"
        module.write_text(source + "\n", encoding="utf-8")
        assert _adapters_named(_imported(module, "adapters.mappa")) == expected, source
