"""Routing tests as data: at a pinned moment, given a record, the desks expected.

A suite is a YAML file under ``<policy dir>/routes/tests/``. Fixtures are the
policy tests' (``gateway.policy.tools.suite``): canonical exchanges, one able
to extend another. Each case pins the clock with ``at`` (an ISO date-time with
its offset), so a case about Christmas Day or the clocks changing means the
same on any day it runs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field, ValidationError, field_validator

from contracts import Exchange
from gateway.errors import PolicyLoadError, field_path
from gateway.policy.model import PolicyModel
from gateway.policy.source import Source
from gateway.policy.tools.report import CaseOutcome, SuiteReport
from gateway.policy.tools.suite import Fixture, build_fixture
from gateway.routing.model import ExpectedStep, Period
from gateway.routing.plan import RoutePlan, Routes, period, words


class Expected(PolicyModel):
    route: str | None = Field(
        default=None, description="The route id expected to match; null for the default desk."
    )
    in_hours: bool | None = None
    steps: list[str | ExpectedStep] = Field(
        min_length=1, description="Desk ids (or desk + deadline), in order."
    )


class RouteCase(PolicyModel):
    name: str
    at: dt.datetime = Field(description="The pinned clock: an ISO date-time with its offset.")
    exchange: str = Field(description="A fixture name.")
    party: str = Field(description="The party the policy permitted.")
    acknowledge_within: Period | None = Field(
        default=None, description="The flow's obligation, as the pipeline would pass it."
    )
    expect: Expected

    @field_validator("at")
    @classmethod
    def _has_offset(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError("at needs an offset (Z or +01:00): a local time is ambiguous")
        return value


class RouteSuite(PolicyModel):
    name: str
    description: str = ""
    fixtures: dict[str, Fixture]
    tests: list[RouteCase] = Field(min_length=1)


@dataclass
class CaseResult(CaseOutcome):
    route: str | None = None


@dataclass
class Report(SuiteReport[CaseResult]):
    uncovered: list[str] = field(default_factory=list)  # routes no case matched

    def notes(self) -> list[str]:
        if not self.uncovered:
            return []
        return [f"routes no routing test exercises: {', '.join(self.uncovered)}"]


def describe(plan: RoutePlan) -> list[str]:
    return [
        f"{i + 1}. {s.desk} ({s.party}), {words(s.acknowledge_within)}: {s.why}"
        for i, s in enumerate(plan.steps)
    ]


def check(plan: RoutePlan, case: RouteCase) -> list[str]:
    """What differs between a plan and the case's expectation, in words."""
    out: list[str] = []
    expected = case.expect
    if "route" in expected.model_fields_set and plan.route != expected.route:
        want = expected.route or "none (the default desk)"
        out.append(f"route: expected {want}, got {plan.route or 'none (the default desk)'}")
    if "in_hours" in expected.model_fields_set and plan.in_hours != expected.in_hours:
        out.append(f"in_hours: expected {expected.in_hours}, got {plan.in_hours}")
    steps = [ExpectedStep(desk=s) if isinstance(s, str) else s for s in expected.steps]
    got = [s.desk for s in plan.steps]
    if [s.desk for s in steps] != got:
        out.append(f"steps: expected {' -> '.join(s.desk for s in steps)}")
        out.append(f"       got      {' -> '.join(got)}")
        out += [f"         {line}" for line in describe(plan)]
        return out
    for i, (step_wanted, step) in enumerate(zip(steps, plan.steps, strict=True)):
        if step_wanted.party is not None and step_wanted.party != step.party:
            out.append(
                f"step {i + 1} ({step.desk}): party expected {step_wanted.party}, got {step.party}"
            )
        ack = step_wanted.acknowledge_within
        if ack is not None:
            deadline = None if ack == "none" else period(ack)
            if deadline != step.acknowledge_within:
                out.append(
                    f"step {i + 1} ({step.desk}): acknowledge within expected "
                    f"{words(deadline)}, got {words(step.acknowledge_within)}"
                )
    return out


def run_case(routes: Routes, suite: RouteSuite, case: RouteCase) -> CaseResult:
    result = CaseResult(suite.name, case.name)
    try:
        exchange = Exchange.model_validate(build_fixture(case.exchange, suite.fixtures))
    except ValidationError as exc:
        problems = "; ".join(
            f"{field_path(e['loc'], '(document)')}: {e['msg']}" for e in exc.errors()
        )
        result.failures.append(f"fixture {case.exchange!r} is not a valid exchange: {problems}")
        return result
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        result.failures.append(f"fixture {case.exchange!r}: {exc}")
        return result
    ack = period(case.acknowledge_within) if case.acknowledge_within else None
    plan = routes.plan(case.party, exchange, case.at, ack)
    result.route = plan.route
    result.failures = check(plan, case)
    return result


def load_suite(path: Path, routes: Routes) -> RouteSuite:
    source = Source.read(path)
    suite = source.validate(RouteSuite, "routing test")
    problems = [
        source.problem(("fixtures", name, "extends"), f"unknown fixture {f.extends!r}")
        for name, f in suite.fixtures.items()
        if f.extends and f.extends not in suite.fixtures
    ]
    for i, case in enumerate(suite.tests):
        if case.exchange not in suite.fixtures:
            problems.append(
                source.problem(("tests", i, "exchange"), f"unknown fixture {case.exchange!r}")
            )
        if routes.parties and case.party not in routes.parties:
            problems.append(source.problem(("tests", i, "party"), f"unknown party {case.party!r}"))
        known = {r.id for r in routes.routes}
        if case.expect.route is not None and case.expect.route not in known:
            problems.append(
                source.problem(
                    ("tests", i, "expect", "route"), f"unknown route {case.expect.route!r}"
                )
            )
    if problems:
        raise PolicyLoadError(f"{path}: the routing test suite does not load", problems)
    return suite


def run_suites(routes: Routes, tests_dir: Path) -> Report:
    report = Report()
    files = sorted(p for p in tests_dir.glob("*.yaml") if p.is_file()) if tests_dir.is_dir() else []
    if not files:
        report.errors.append(f"{tests_dir}: no routing tests (*.yaml) found")
    for path in files:
        try:
            suite = load_suite(path, routes)
        except PolicyLoadError as exc:
            report.errors.append(str(exc))
            continue
        report.results += [run_case(routes, suite, case) for case in suite.tests]
    matched = {r.route for r in report.results}
    report.uncovered = [r.id for r in routes.routes if r.id not in matched]
    return report
