"""The policy in force, reloaded only when a changed agreement lints and passes its tests.

The gateway calls :meth:`LivePolicy.check` every few seconds from a background
thread and reads :attr:`LivePolicy.current` per request. A change that does
not load, lint or pass its policy tests is refused: the last good bundle stays
in force, the reason is kept for ``/readyz`` and the refusal is counted. A
change that passes is first handed to ``on_change`` (the runtime records it in
the audit trail): only once that succeeds does the new bundle take effect, so
no policy decides unaudited.

Rules kept beside the policy (the routes, ``gateway.routing.live``) can ride
along as its *companion*: their files are watched with the policy's, they are
loaded and tested against the candidate bundle, and they take effect with it
or not at all.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from gateway.audit.chain import Action, AuditEntry
from gateway.errors import PolicyLoadError
from gateway.policy.bundle import PolicyBundle, policy_files
from gateway.policy.tools.lint import lint, version_kept
from gateway.policy.tools.suite import run_suites, suite_files

log = logging.getLogger(__name__)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Companion(Protocol):
    """Rules beside the policy that load against a bundle and take effect with it."""

    def files(self) -> dict[str, Path]: ...

    def load(self, bundle: PolicyBundle) -> tuple[Any, str | None]: ...

    def version(self, value: Any) -> str: ...


@dataclass(frozen=True)
class PolicyChange:
    """A bundle about to replace the one in force, and the files that differ."""

    before: PolicyBundle
    after: PolicyBundle
    added: tuple[str, ...]
    removed: tuple[str, ...]
    modified: tuple[str, ...]
    #: the companion's versions (the routes' hash), when there is one
    companion_before: str | None = None
    companion_after: str | None = None

    def audit_entry(self) -> AuditEntry:
        """The ``policy-change`` entry: hashes and versions before and after, the
        files changed (names, never contents), and the process that took it up."""

        def side(bundle: PolicyBundle, companion: str | None) -> dict[str, str]:
            return {
                "version": bundle.version,
                "agreement": bundle.agreement_id,
                "agreement_version": bundle.agreement_version,
                **({"routes_version": companion} if companion else {}),
            }

        return AuditEntry(
            action=Action.POLICY_CHANGE,
            actor="gateway",
            details={
                "directory": str(self.after.directory),
                "before": side(self.before, self.companion_before),
                "after": side(self.after, self.companion_after),
                "files_added": list(self.added),
                "files_removed": list(self.removed),
                "files_modified": list(self.modified),
                "process": {"host": socket.gethostname(), "pid": os.getpid()},
            },
        )


class LivePolicy:
    def __init__(
        self,
        directory: Path | str,
        tests_dir: Path | str | None = None,
        on_change: Callable[[PolicyChange], None] | None = None,
        companion: Companion | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.companion = companion
        self.tests_dir = Path(tests_dir) if tests_dir else self.directory / "tests"
        #: Called with a passing change before it takes effect; if it raises, the
        #: change waits (the next check tries again).
        self.on_change = on_change
        self.rejected_reloads = 0
        self.reloads = 0
        self.last_error: str | None = None
        self.last_checked_at: str | None = None
        self._lock = threading.Lock()
        digests = self._file_digests()
        bundle, beside, error = self._candidate()
        if bundle is None:
            raise PolicyLoadError(f"{self.directory}: the policy in force does not load: {error}")
        self._current = bundle
        self._beside = beside
        #: The files as the bundle in force was loaded from, and as last checked.
        self._loaded_digests = self._seen_digests = digests
        self.loaded_at = _now()

    @property
    def current(self) -> PolicyBundle:
        return self._current

    def __call__(self) -> PolicyBundle:
        """The bundle in force: a LivePolicy can be passed wherever a bundle getter is."""
        return self._current

    @property
    def beside(self) -> Any:
        """The companion's rules in force with the bundle (None without a companion)."""
        return self._beside

    def _beside_version(self, value: Any) -> str | None:
        return None if self.companion is None else self.companion.version(value)

    def watch(self, stop: threading.Event, interval: float) -> None:
        """Check every ``interval`` seconds until ``stop`` is set (run it in a thread)."""
        while not stop.wait(interval):
            try:
                self.check()
            except Exception:  # a checker that dies silently would freeze the policy
                log.exception("policy check failed; keeping %s", self._current.version)

    def _file_digests(self) -> dict[str, str]:
        """Each policy file and policy test file (``tests/...``) by name, with the
        SHA-256 of its bytes: any edit changes one."""
        files = policy_files(self.directory) if self.directory.is_dir() else []
        tests = suite_files(self.tests_dir) if self.tests_dir.is_dir() else []
        named = [(p.name, p) for p in files] + [
            (f"{self.tests_dir.name}/{p.name}", p) for p in tests
        ]
        if self.companion is not None:
            named += list(self.companion.files().items())
        return {name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in named}

    def _candidate(self) -> tuple[PolicyBundle | None, Any, str | None]:
        """Load, lint and test the directory (and the companion against it); the
        bundle and the companion's rules, or why they are refused."""
        result = lint(self.directory)
        if result.bundle is None or result.errors:
            return None, None, "lint failed: " + "; ".join(str(f) for f in result.errors)
        in_force = getattr(self, "_current", None)  # None while the first one loads
        for warning in version_kept(result.bundle, in_force) if in_force else []:
            log.warning("%s", warning)
        report = run_suites(result.bundle, self.tests_dir)
        if not report.passed:
            return None, None, "policy tests failed: " + report.render().replace("\n", " | ")
        if self.companion is None:
            return result.bundle, None, None
        beside, error = self.companion.load(result.bundle)
        if error is not None:
            return None, None, error
        return result.bundle, beside, None

    def check(self) -> bool:
        """Reload if the files changed and the change is good; True when reloaded."""
        with self._lock:
            self.last_checked_at = _now()
            digests = self._file_digests()
            if digests == self._seen_digests:
                return False
            bundle, beside, error = self._candidate()
            if bundle is None:
                self._seen_digests = digests
                self.rejected_reloads += 1
                self.last_error = error
                log.warning("policy change refused, keeping %s: %s", self._current.version, error)
                return False
            changed = bundle.version != self._current.version or (
                self._beside_version(beside) != self._beside_version(self._beside)
            )
            if changed and self.on_change is not None:
                try:
                    self.on_change(self._change(bundle, beside, digests))
                except Exception as exc:  # the store is away: try again at the next check
                    self.last_error = f"the change could not be audited: {exc}"
                    log.warning("policy change not taken up yet: %s", self.last_error)
                    return False
            self._seen_digests = digests
            self._current, self._beside = bundle, beside
            self.last_error = None
            if changed:
                self._loaded_digests = digests
                self.reloads += 1
                self.loaded_at = _now()
                log.info("policy reloaded: %s", bundle.version)
            return changed

    def _change(self, bundle: PolicyBundle, beside: Any, digests: dict[str, str]) -> PolicyChange:
        old = self._loaded_digests
        return PolicyChange(
            before=self._current,
            after=bundle,
            companion_before=self._beside_version(self._beside),
            companion_after=self._beside_version(beside),
            added=tuple(sorted(digests.keys() - old.keys())),
            removed=tuple(sorted(old.keys() - digests.keys())),
            modified=tuple(sorted(n for n in digests.keys() & old.keys() if digests[n] != old[n])),
        )

    def status(self) -> dict[str, Any]:
        bundle = self._current
        return {
            "agreement": bundle.agreement_id,
            "agreement_version": bundle.agreement_version,
            "version": bundle.version,
            **({"routes_version": v} if (v := self._beside_version(self._beside)) else {}),
            "directory": str(self.directory),
            "loaded_at": self.loaded_at,
            "last_checked_at": self.last_checked_at,
            "last_error": self.last_error,
            "reloads": self.reloads,
            "rejected_reloads": self.rejected_reloads,
        }
