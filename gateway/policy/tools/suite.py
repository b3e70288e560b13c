"""Policy tests as data: given an exchange, the decision expected per recipient.

A suite is a YAML file under ``<policy dir>/tests/``: named fixtures (canonical
exchanges, one able to extend another and change a few fields), then cases
with the expected effect, rules and disclosed fields per recipient. A failure
is reported as a readable difference, not a stack trace.
"""

from __future__ import annotations

import copy
import itertools
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from contracts import Category, Exchange
from gateway.errors import PolicyLoadError, field_path
from gateway.policy.bundle import PolicyBundle
from gateway.policy.engine import Decision, decide
from gateway.policy.fields import is_envelope, is_known
from gateway.policy.minimise import minimise_for
from gateway.policy.model import ANY, Flow, PolicyModel
from gateway.policy.registration import apply_registration
from gateway.policy.source import Source
from gateway.policy.tools.report import CaseOutcome, SuiteReport

#: The key policy tests pseudonymise with; tests check that, not the value.
TEST_PSEUDONYM_KEY = b"policy-tests-only"
FIXTURE_NAMESPACE = uuid.UUID("6b9c0c1e-52b5-4f59-8d0e-3f3f0a4c9e77")
DEFAULT_SUBMITTED_AT = "2026-06-01T10:00:00Z"


class Fixture(PolicyModel):
    """A canonical exchange, whole or as changes to another fixture."""

    extends: str | None = Field(default=None, description="Start from this fixture.")
    exchange: dict[str, Any] = Field(
        default_factory=dict, description="Canonical exchange fields (merged over extends)."
    )
    set: dict[str, Any] = Field(
        default_factory=dict,
        description="Paths with indexes to change, e.g. subjects[0].address.local_authority; "
        "null removes the field.",
    )


class Expectation(PolicyModel):
    effect: Literal["permit", "deny"]
    rules: list[str] | None = None
    disclosed: list[str] | None = Field(
        default=None, description="Exactly these leaf paths cross (envelope fields aside)."
    )
    not_disclosed: list[str] = Field(
        default_factory=list, description="None of these paths (or anything under them) cross."
    )
    transformed: dict[str, str] | None = Field(
        default=None, description="Exactly these leaf paths cross transformed: path -> transform."
    )
    lawful_basis: str | None = None
    consent: Literal["given", "not given", "not required"] | None = None
    justification: str | None = None
    obligations: list[str] | None = None
    purpose: str | None = Field(
        default=None, description="The purpose the recipient was permitted under."
    )


class Case(PolicyModel):
    name: str
    exchange: str = Field(description="A fixture name.")
    expect: dict[str, Expectation | Literal["permit", "deny"]] = Field(
        description="Recipient party id -> expected decision."
    )
    others: Literal["deny"] | None = Field(
        default=None, description="deny: every recipient not listed must be denied."
    )


class Suite(PolicyModel):
    name: str
    description: str = ""
    fixtures: dict[str, Fixture]
    tests: list[Case] = Field(min_length=1)


@dataclass
class CaseResult(CaseOutcome):
    rules: set[str] = field(default_factory=set)  # every rule that decided a recipient
    #: (sender, recipient, category) of every refusal the case expected and got
    refused: set[tuple[str, str, str]] = field(default_factory=set)


@dataclass
class Report(SuiteReport[CaseResult]):
    uncovered: list[str] = field(default_factory=list)  # flows no case was decided by
    #: permit flows no case shows refusing: no expected deny for any of its
    #: sender, recipient and category combinations
    never_refused: list[str] = field(default_factory=list)

    def notes(self) -> list[str]:
        notes = []
        if self.uncovered:
            notes.append(f"flows no policy test exercises: {', '.join(self.uncovered)}")
        if self.never_refused:
            notes.append(
                "permit flows no policy test shows refusing a record: "
                + ", ".join(self.never_refused)
            )
        return notes


_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set ``subjects[0].address.town`` in nested data; ``None`` removes the field."""
    steps: list[str | int] = [int(index) if index else name for name, index in _STEP.findall(path)]
    target: Any = data
    for step, following in itertools.pairwise(steps):
        if isinstance(step, int):
            target = target[step]
        else:
            target = target.setdefault(step, [] if isinstance(following, int) else {})
    last = steps[-1]
    if value is None and isinstance(last, str):
        target.pop(last, None)
    else:
        target[last] = value


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def build_fixture(name: str, fixtures: dict[str, Fixture]) -> dict[str, Any]:
    """The fixture's exchange data; id and time default so fixtures stay short."""
    data = _build(name, fixtures, ())
    data.setdefault("exchange_id", str(uuid.uuid5(FIXTURE_NAMESPACE, name)))
    data.setdefault("submitted_at", DEFAULT_SUBMITTED_AT)
    return data


def _build(name: str, fixtures: dict[str, Fixture], seen: tuple[str, ...]) -> dict[str, Any]:
    if name in seen:
        raise ValueError(f"fixture {name!r} extends itself ({' -> '.join((*seen, name))})")
    if name not in fixtures:
        raise ValueError(f"unknown fixture {name!r}; known: {', '.join(sorted(fixtures))}")
    fixture = fixtures[name]
    base = _build(fixture.extends, fixtures, (*seen, name)) if fixture.extends else {}
    data = _merge(base, fixture.exchange)
    for path, value in fixture.set.items():
        set_path(data, path, value)
    return data


def _under(path: str, prefixes: list[str]) -> bool:
    bare = path.replace("[]", "")
    return any(
        bare == p.replace("[]", "") or bare.startswith(p.replace("[]", "") + ".") for p in prefixes
    )


def _set_diff(what: str, expected: set[str], actual: set[str]) -> list[str]:
    if expected == actual:
        return []
    lines = [f"{what} differ (- expected, not got; + got, not expected):"]
    lines += [f"  - {p}" for p in sorted(expected - actual)]
    lines += [f"  + {p}" for p in sorted(actual - expected)]
    return lines


def check(decision: Decision, expected: Expectation, record: dict[str, Any]) -> list[str]:
    """What differs between a decision (and what it discloses) and the expectation."""
    out: list[str] = []
    if decision.effect != expected.effect:
        out.append(f"effect: expected {expected.effect}, got {decision.effect} ({decision.reason})")
        return out
    if expected.rules is not None and list(decision.rules) != expected.rules:
        out.append(f"rules: expected {expected.rules}, got {list(decision.rules)}")
    for name in ("lawful_basis", "consent", "justification", "purpose"):
        want = getattr(expected, name)
        if want is not None and getattr(decision, name) != want:
            out.append(f"{name}: expected {want!r}, got {getattr(decision, name)!r}")
    if expected.obligations is not None and list(decision.obligations) != expected.obligations:
        out.append(
            f"obligations: expected {expected.obligations}, got {list(decision.obligations)}"
        )
    if not decision.permitted:
        return out
    minimised = minimise_for(decision, record, TEST_PSEUDONYM_KEY)
    disclosed = {p for p in minimised.disclosed if not is_envelope(p)}
    if expected.disclosed is not None:
        out += _set_diff("disclosed fields", set(expected.disclosed), disclosed)
    leaked = sorted(p for p in disclosed if _under(p, expected.not_disclosed))
    if leaked:
        out.append(f"must not be disclosed, but was: {', '.join(leaked)}")
    if expected.transformed is not None:
        want = {f"{p} -> {t}" for p, t in expected.transformed.items()}
        got = {f"{p} -> {t}" for p, t in minimised.transformed}
        out += _set_diff("transformed fields", want, got)
    return out


def run_case(bundle: PolicyBundle, suite: Suite, case: Case) -> CaseResult:
    result = CaseResult(suite.name, case.name)
    try:
        data = build_fixture(case.exchange, suite.fixtures)
        exchange = Exchange.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{field_path(e['loc'], '(document)')}: {e['msg']}" for e in exc.errors()
        )
        result.failures.append(f"fixture {case.exchange!r} is not a valid exchange: {problems}")
        return result
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        result.failures.append(f"fixture {case.exchange!r}: {exc}")
        return result
    apply_registration(exchange, bundle)
    record = exchange.model_dump(mode="json")
    decisions = {d.recipient: d for d in decide(bundle, exchange)}
    result.rules = {rule for d in decisions.values() for rule in d.rules}
    for recipient, expected in case.expect.items():
        if recipient not in decisions:
            why = "it is the sender" if recipient == exchange.source_partner else "not a party"
            result.failures.append(f"{recipient}: no decision ({why})")
            continue
        if isinstance(expected, str):
            expected = Expectation(effect=expected)
        failures = check(decisions[recipient], expected, record)
        result.failures += [f"{recipient}: {line}" for line in failures]
        if expected.effect == "deny" and not failures:
            result.refused.add((exchange.source_partner, recipient, str(exchange.category)))
    if case.others == "deny":
        for recipient, decision in decisions.items():
            if recipient not in case.expect and decision.permitted:
                result.failures.append(
                    f"{recipient}: expected deny (others: deny), "
                    f"got permit by {list(decision.rules)}"
                )
    return result


def load_suite(path: Path) -> Suite:
    source = Source.read(path)
    suite = source.validate(Suite, "policy test")
    problems = [
        source.problem(("fixtures", name, "extends"), f"unknown fixture {f.extends!r}")
        for name, f in suite.fixtures.items()
        if f.extends and f.extends not in suite.fixtures
    ]
    problems += [
        source.problem(("tests", i, "exchange"), f"unknown fixture {c.exchange!r}")
        for i, c in enumerate(suite.tests)
        if c.exchange not in suite.fixtures
    ]
    for i, case in enumerate(suite.tests):
        for recipient, expected in case.expect.items():
            if isinstance(expected, str):
                continue
            named = [
                *(("disclosed", p) for p in expected.disclosed or []),
                *(("not_disclosed", p) for p in expected.not_disclosed),
                *(("transformed", p) for p in expected.transformed or {}),
            ]
            problems += [
                source.problem(
                    ("tests", i, "expect", recipient, key),
                    f"unknown canonical field {p!r} (a typo would let the test pass vacuously)",
                )
                for key, p in named
                if not is_known(p)
            ]
    if problems:
        raise PolicyLoadError(f"{path}: the policy test suite does not load", problems)
    return suite


def suite_files(tests_dir: Path) -> list[Path]:
    return sorted(p for p in tests_dir.glob("*.yaml") if p.is_file())


def run_suites(bundle: PolicyBundle, tests_dir: Path | None = None) -> Report:
    tests_dir = tests_dir or bundle.directory / "tests"
    report = Report()
    files = suite_files(tests_dir) if tests_dir.is_dir() else []
    if not files:
        report.errors.append(f"{tests_dir}: no policy tests (*.yaml) found")
    for path in files:
        try:
            suite = load_suite(path)
        except PolicyLoadError as exc:
            report.errors.append(str(exc))
            continue
        report.results += [run_case(bundle, suite, case) for case in suite.tests]
    decided = {rule for r in report.results for rule in r.rules}
    report.uncovered = [f.id for f in bundle.flows if f.id not in decided]
    refused = {key for r in report.results for key in r.refused}
    report.never_refused = [
        f.id
        for f in bundle.flows
        if f.effect == "permit" and not any(key in refused for key in _keys(bundle, f))
    ]
    return report


def _keys(bundle: PolicyBundle, flow: Flow) -> set[tuple[str, str, str]]:
    """Every (sender, recipient, category) a flow could decide."""
    parties = list(bundle.parties)
    senders = parties if ANY in flow.senders else flow.senders
    recipients = parties if ANY in flow.recipients else flow.recipients
    categories = [str(c) for c in Category] if ANY in flow.categories else flow.categories
    return {(s, r, str(c)) for s in senders for r in recipients for c in categories if s != r}
