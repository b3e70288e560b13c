"""What a run of tests-as-data reports: the policy tests and the routing tests
share its shape, so a governance lead reads both the same way."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar


@dataclass
class CaseOutcome:
    """One case: passed when nothing failed."""

    suite: str
    name: str
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


Outcome = TypeVar("Outcome", bound=CaseOutcome)


@dataclass
class SuiteReport(Generic[Outcome]):
    """Every case's outcome and the suites that could not run; ``notes()`` adds
    what passed cases still leave untested."""

    results: list[Outcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # suites that could not run

    @property
    def passed(self) -> bool:
        return not self.errors and all(r.passed for r in self.results)

    def summary(self) -> str:
        failed = sum(1 for r in self.results if not r.passed)
        return f"{len(self.results) - failed} passed, {failed} failed, {len(self.errors)} errors"

    def notes(self) -> list[str]:
        return []

    def render(self) -> str:
        lines = [f"ERROR {error}" for error in self.errors]
        for result in self.results:
            if not result.passed:
                lines.append(f"FAIL  {result.suite} :: {result.name}")
                lines += [f"      {line}" for line in result.failures]
        lines += [f"NOTE  {note}" for note in self.notes()]
        lines.append(self.summary())
        return "\n".join(lines)
