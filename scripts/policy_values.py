"""A policy directory as Helm values for the chart's ConfigMap source.

    .venv/bin/python scripts/policy_values.py policies/cheshire-hru > policy-values.yaml
    helm upgrade --install isg helm/isg-gateway -f production.yaml -f policy-values.yaml

Every file of the bundle (its agreement, flows, catalogue, tests and routes) by its path
relative to the directory; the chart mounts them back as the same tree. A ConfigMap holds
1 MiB at most: a larger bundle belongs in git, with policies.source gitSync.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

LIMIT_BYTES = 1024 * 1024 - 64 * 1024  # the ConfigMap's limit, less room for its metadata


def policy_values(directory: Path) -> dict[str, Any]:
    files = {
        path.relative_to(directory).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(directory.rglob("*"))
        if path.is_file() and not any(part.startswith(".") for part in path.parts)
    }
    size = sum(len(text.encode()) for text in files.values())
    if size > LIMIT_BYTES:
        raise ValueError(f"{directory}: {size} bytes, more than a ConfigMap holds; use gitSync")
    return {"policies": {"source": "configMap", "files": files}}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print("usage: policy_values.py POLICY_DIRECTORY", file=sys.stderr)
        return 2
    try:
        values = policy_values(Path(argv[0]))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(yaml.safe_dump(values, sort_keys=False, allow_unicode=True, width=100))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
