"""Calendar months, as the evaluations count follow-up and as the files show dates."""

from __future__ import annotations

from datetime import date


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (the month's last day when it has no such day)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("every month has a 28th")


def month_of(day: date | None) -> str | None:
    """A date coarsened to its month, ``YYYY-MM``: what the export files show."""
    return None if day is None else f"{day.year:04d}-{day.month:02d}"
