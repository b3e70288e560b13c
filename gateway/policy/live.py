"""The policy in force, reloaded only when a changed agreement lints and passes its tests.

The gateway calls :meth:`LivePolicy.check` every few seconds from a background
thread and reads :attr:`LivePolicy.current` per request. A change that does
not load, lint or pass its policy tests is refused: the last good bundle stays
in force, the reason is kept for ``/readyz`` and the refusal is counted.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.errors import PolicyLoadError
from gateway.policy.bundle import PolicyBundle, bundle_hash, policy_files
from gateway.policy.tools.lint import lint
from gateway.policy.tools.suite import run_suites, suite_files

log = logging.getLogger(__name__)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class LivePolicy:
    def __init__(self, directory: Path | str, tests_dir: Path | str | None = None) -> None:
        self.directory = Path(directory)
        self.tests_dir = Path(tests_dir) if tests_dir else self.directory / "tests"
        self.rejected_reloads = 0
        self.reloads = 0
        self.last_error: str | None = None
        self.last_checked_at: str | None = None
        self._lock = threading.Lock()
        bundle, error = self._candidate()
        if bundle is None:
            raise PolicyLoadError(f"{self.directory}: the policy in force does not load: {error}")
        self._current = bundle
        self._fingerprint = self._files_fingerprint()
        self.loaded_at = _now()

    @property
    def current(self) -> PolicyBundle:
        return self._current

    def __call__(self) -> PolicyBundle:
        """The bundle in force: a LivePolicy can be passed wherever a bundle getter is."""
        return self._current

    def watch(self, stop: threading.Event, interval: float) -> None:
        """Check every ``interval`` seconds until ``stop`` is set (run it in a thread)."""
        while not stop.wait(interval):
            try:
                self.check()
            except Exception:  # a checker that dies silently would freeze the policy
                log.exception("policy check failed; keeping %s", self._current.version)

    def _files_fingerprint(self) -> str:
        """The hash of the policy files and their tests: any edit changes it."""
        files = policy_files(self.directory) if self.directory.is_dir() else []
        tests = suite_files(self.tests_dir) if self.tests_dir.is_dir() else []
        return bundle_hash(files + tests) if files or tests else "missing"

    def _candidate(self) -> tuple[PolicyBundle | None, str | None]:
        """Load, lint and test the directory; the bundle, or why it is refused."""
        result = lint(self.directory)
        if result.bundle is None or result.errors:
            return None, "lint failed: " + "; ".join(str(f) for f in result.errors)
        report = run_suites(result.bundle, self.tests_dir)
        if not report.passed:
            return None, "policy tests failed: " + report.render().replace("\n", " | ")
        return result.bundle, None

    def check(self) -> bool:
        """Reload if the files changed and the change is good; True when reloaded."""
        with self._lock:
            self.last_checked_at = _now()
            fingerprint = self._files_fingerprint()
            if fingerprint == self._fingerprint:
                return False
            self._fingerprint = fingerprint
            bundle, error = self._candidate()
            if bundle is None:
                self.rejected_reloads += 1
                self.last_error = error
                log.warning("policy change refused, keeping %s: %s", self._current.version, error)
                return False
            changed = bundle.version != self._current.version
            self._current = bundle
            self.last_error = None
            if changed:
                self.reloads += 1
                self.loaded_at = _now()
                log.info("policy reloaded: %s", bundle.version)
            return changed

    def status(self) -> dict[str, Any]:
        bundle = self._current
        return {
            "agreement": bundle.agreement_id,
            "agreement_version": bundle.agreement_version,
            "version": bundle.version,
            "directory": str(self.directory),
            "loaded_at": self.loaded_at,
            "last_checked_at": self.last_checked_at,
            "last_error": self.last_error,
            "reloads": self.reloads,
            "rejected_reloads": self.rejected_reloads,
        }
