"""The Helm chart rendered by a real Helm engine (helm-python-sdk's libhelm), for the tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import helm_python as helm
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "isg-gateway"
PRODUCTION = CHART / "ci" / "production-values.yaml"


def production_values() -> dict[str, Any]:
    return yaml.safe_load(PRODUCTION.read_text())


def merged(values: dict[str, Any]) -> dict[str, Any]:
    """The values an install would use: the chart's defaults under ``values``."""
    with helm.Chart.load(CHART) as chart:
        return chart.merge_values(values)


def render(
    values: dict[str, Any] | None = None, release: str = "isg", namespace: str = "isg"
) -> dict[str, str]:
    """Template path -> rendered text, as `helm template` would (the schema checked)."""
    with helm.Chart.load(CHART) as chart:
        return chart.render(values or {}, name=release, namespace=namespace, is_install=True)


def manifests(values: dict[str, Any] | None = None, release: str = "isg") -> list[dict[str, Any]]:
    """Every Kubernetes object the chart makes with ``values``."""
    objects = []
    for path, text in sorted(render(values, release).items()):
        if path.endswith("NOTES.txt"):
            continue
        objects += [doc for doc in yaml.safe_load_all(text) if doc]
    return objects


def one(objects: list[dict[str, Any]], kind: str, component: str) -> dict[str, Any]:
    found = [
        o
        for o in objects
        if o["kind"] == kind
        and o["metadata"]["labels"].get("app.kubernetes.io/component") == component
    ]
    assert len(found) == 1, f"{len(found)} {kind} of {component}"
    return found[0]


def migrations_command(values: dict[str, Any] | None = None) -> list[str]:
    """The arguments the chart's migrations Job gives the image's entrypoint (`gateway`)."""
    job = one(manifests(values), "Job", "migrations")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    return list(container["args"])


def script(name: str) -> ModuleType:
    """A module of scripts/ (not a package), loaded by path."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
