"""One reading of a period's words ("15 minutes", "2 years") for obligations,
routes and the clock; a route's deadline stays within minutes to weeks."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from gateway.alerts import acknowledge_within
from gateway.policy import Decision
from gateway.policy.model import PERIOD_PATTERN, parse_period
from gateway.routing.plan import period


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("1 minute", timedelta(minutes=1)),
        ("15 minutes", timedelta(minutes=15)),
        ("2 hours", timedelta(hours=2)),
        ("1 day", timedelta(days=1)),
        ("3 weeks", timedelta(weeks=3)),
        ("6 months", timedelta(days=180)),
        ("2 years", timedelta(days=730)),
    ],
)
def test_every_unit_the_policy_language_allows_is_read(words, expected):
    assert re.match(PERIOD_PATTERN, words)
    assert parse_period(words) == expected


@pytest.mark.parametrize("words", ["0 minutes", "15", "minutes", "15 fortnights", "-1 day", ""])
def test_anything_else_is_refused(words):
    assert not re.match(PERIOD_PATTERN, words)
    with pytest.raises(ValueError, match="is not a period"):
        parse_period(words)


def test_a_routes_deadline_is_minutes_to_weeks_only():
    assert period("2 weeks") == timedelta(weeks=2)
    with pytest.raises(ValueError, match="is not a period"):
        period("1 month")


def _permit(*obligations: str) -> Decision:
    return Decision(
        recipient="nhs-crisis-line",
        effect="permit",
        rules=("flow:crisis",),
        reason="permitted",
        purpose="safeguarding",
        policy_version="sha256:x",
        obligations=obligations,
    )


def test_the_clock_reads_the_obligation_as_the_policy_words_it():
    assert acknowledge_within(_permit("notify dpo", "acknowledge within 2 hours")) == timedelta(
        hours=2
    )
    assert acknowledge_within(_permit("retain for 2 years")) is None
