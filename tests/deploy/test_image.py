"""The container image's recipe: hadolint finds nothing, the lock pins every dependency
pyproject.toml names with hashes, and the Dockerfile keeps its promises (stages, a non-root
user with a passwd entry, no build tools in the final stage). No docker daemon needed."""

from __future__ import annotations

import fnmatch
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.deploy.chart import ROOT, production_values

DOCKERFILE = ROOT / "Dockerfile"
HADOLINT = Path(sys.executable).parent / "hadolint"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\]+)")


def _pins(lock: Path) -> dict[str, tuple[Version, int]]:
    """name -> (pinned version, how many hashes) of a pip-compile --generate-hashes file."""
    pins: dict[str, tuple[Version, int]] = {}
    current = None
    for line in lock.read_text().splitlines():
        if match := PIN.match(line):
            current = canonicalize_name(match[1])
            pins[current] = (Version(match[2]), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
    return pins


def _stages() -> list[list[str]]:
    """The Dockerfile's stages, each its instructions (continuations joined)."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    stages: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def test_hadolint_finds_nothing():
    result = subprocess.run(
        [str(HADOLINT), "--no-color", str(DOCKERFILE)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_the_lock_pins_every_runtime_dependency_with_hashes():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = _pins(ROOT / "requirements.lock")
    assert pins, "requirements.lock is empty"
    missing, outside = [], []
    for text in project["project"]["dependencies"]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        if name not in pins:
            missing.append(name)
            continue
        if not requirement.specifier.contains(pins[name][0], prereleases=True):
            outside.append(f"{name}=={pins[name][0]} ({requirement.specifier})")
        for extra in requirement.extras:  # psycopg[binary] brings psycopg-binary
            if name == "psycopg":
                assert canonicalize_name(f"psycopg-{extra}") in pins
    assert missing == [], "scripts/lock: the lock misses " + ", ".join(missing)
    assert outside == [], "scripts/lock: pins outside pyproject's ranges: " + ", ".join(outside)
    assert all(hashes >= 1 for _, hashes in pins.values())
    dev = {
        canonicalize_name(Requirement(t).name)
        for t in project["project"]["optional-dependencies"]["dev"]
    }
    assert not dev & set(pins) - {"packaging"}, "development tools do not belong in the image"


def test_the_build_lock_pins_the_build_backend():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = _pins(ROOT / "requirements-build.lock")
    for text in project["build-system"]["requires"]:
        requirement = Requirement(text)
        version, hashes = pins[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(version) and hashes >= 1


def test_the_dockerfile_builds_in_stages_and_runs_unprivileged():
    build, runtime = _stages()
    assert build[0].endswith("AS build") and runtime[0].endswith("AS runtime")
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", DOCKERFILE.read_text(), re.M)
    build_text, runtime_text = "\n".join(build), "\n".join(runtime)
    # Dependencies only from the lock, every file checked against its hash, no index later.
    assert "--require-hashes" in build_text and "-r requirements.lock" in build_text
    assert "--no-index" in build_text
    # The final stage: no package manager installs, no compiler, no pip or setuptools.
    assert not re.search(r"apt-get|apk |gcc|build-essential|pip install", runtime_text)
    assert "pip uninstall --yes pip setuptools" in runtime_text
    assert "venv --without-pip /opt/isg" in build_text
    assert "COPY --from=build /opt/isg /opt/isg" in runtime_text
    # A passwd entry for uid 10001 (the CLI names the operator by it) and that user runs it.
    assert re.search(r"useradd .*--uid 10001", runtime_text)
    (user,) = [line for line in runtime if line.startswith("USER ")]
    assert user == "USER 10001:10001"
    context = production_values().get("securityContext", {})
    assert context.get("runAsUser", 10001) == 10001  # the chart runs the image's user
    assert 'ENTRYPOINT ["gateway"]' in runtime_text


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern decides; ``!`` re-includes."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(
            fnmatch.fnmatch(p, pattern) or fnmatch.fnmatch(p, pattern.replace("**/", ""))
            for p in prefixes
        ):
            ignored = not negate
    return ignored


def test_the_build_context_is_what_the_dockerfile_copies_and_no_secret():
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = []
    for stage in _stages():
        for line in stage:
            if line.startswith("COPY ") and "--from=" not in line:
                copied += line.split()[1:-1]
    assert copied
    for source in copied:
        assert (ROOT / source).exists(), source
        assert not _ignored(source, patterns), f"{source} is copied but ignored"
    for kept_out in (
        ".venv/bin/python",
        ".git/config",
        ".gateway-data/pseudonym.key",
        "tests/conftest.py",
        "helm/isg-gateway/values.yaml",
        "gateway/x.pem",
    ):
        assert _ignored(kept_out, patterns), kept_out
