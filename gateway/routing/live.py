"""The routes kept beside the policy, reloaded with it.

A governance lead edits ``<policy dir>/routes/`` with the same care as the
agreement: a change takes effect only when the routes load against the
bundle that will be in force, lint without errors and pass their routing
tests, and only together with that bundle (``gateway.policy.live`` calls this
as the bundle's companion), so a desk never names a party the policy dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.policy.tools.lint import ERROR
from gateway.routing.lint import lint
from gateway.routing.load import route_files
from gateway.routing.plan import Routes
from gateway.routing.suite import run_suites

if TYPE_CHECKING:
    from gateway.policy.bundle import PolicyBundle


@dataclass(frozen=True)
class RoutesBeside:
    """The companion that loads, lints and tests ``directory`` (``<policy dir>/routes``)."""

    directory: Path

    def files(self) -> dict[str, Path]:
        """Each routes file and routing test file, named as the audit trail shows them."""
        tests = self.directory / "tests"
        named = {f"routes/{p.name}": p for p in self._files(self.directory)}
        named |= {f"routes/tests/{p.name}": p for p in self._files(tests)}
        return named

    def load(self, bundle: PolicyBundle) -> tuple[Routes | None, str | None]:
        """The routes for ``bundle``, or why they are refused."""
        routes, findings = lint(self.directory, bundle)
        errors = [f"{f.where}: {f.message}" for f in findings if f.severity == ERROR]
        if routes is None or errors:
            return None, "routes lint failed: " + "; ".join(errors)
        if not routes.files:  # no routes: every party receives at its default desk
            return routes, None
        report = run_suites(routes, self.directory / "tests")
        if not report.passed:
            return None, "routing tests failed: " + report.render().replace("\n", " | ")
        return routes, None

    @staticmethod
    def version(routes: Routes) -> str:
        return routes.version

    @staticmethod
    def _files(directory: Path) -> list[Path]:
        return route_files(directory) if directory.is_dir() else []
