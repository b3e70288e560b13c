"""Opening hours in a team's own time zone, less bank holidays and local closures.

Times are compared in local wall-clock time (zoneinfo), so the clocks changing
in March and October move the hours with them: 08:00 is 08:00 in BST and GMT.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import holidays

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SHORT = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def parse_days(text: str) -> list[int]:
    """``monday`` -> [0]; ``monday-friday`` -> [0..4]; ValueError naming the weekdays."""
    first, _, last = text.partition("-")
    for name in (first, last) if last else (first,):
        if name not in WEEKDAYS:
            raise ValueError(f"unknown weekday {name!r}; expected one of {', '.join(WEEKDAYS)}")
    start, end = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
    if end < start:
        raise ValueError(f"{text!r} runs backwards; write the earlier day first")
    return list(range(start, end + 1))


def parse_range(text: str) -> tuple[dt.time, dt.time]:
    """``08:00-16:00`` -> (08:00, 16:00); the end must be later the same day."""
    try:
        start_text, end_text = text.split("-")
        start = dt.time.fromisoformat(start_text.strip())
        end = (
            dt.time(23, 59, 59, 999999)
            if end_text.strip() == "24:00"
            else dt.time.fromisoformat(end_text.strip())
        )
    except ValueError:
        raise ValueError(f"{text!r} is not a time range like 08:00-16:00") from None
    if end <= start:
        raise ValueError(
            f"{text!r} ends before it starts; split a night over two days (e.g. 20:00-24:00 "
            "and 00:00-08:00)"
        )
    return start, end


def show(start: dt.time, end: dt.time) -> str:
    last = "24:00" if end == dt.time(23, 59, 59, 999999) else end.strftime("%H:%M")
    return f"{start.strftime('%H:%M')}-{last}"


@dataclass(frozen=True)
class Closed:
    start: dt.date
    end: dt.date
    reason: str


@dataclass
class Calendar:
    """A team's working hours; ``open_at`` says whether a moment is in hours, and why."""

    id: str
    zone: ZoneInfo
    hours: dict[int, list[tuple[dt.time, dt.time]]]
    bank_holidays: bool = True
    closures: list[Closed] = field(default_factory=list)
    _holidays: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.bank_holidays:
            self._holidays = holidays.country_holidays("GB", subdiv="ENG")

    @property
    def has_hours(self) -> bool:
        return any(self.hours.values())

    def closed_because(self, day: dt.date) -> str | None:
        """Why the team is closed all day, if it is: a bank holiday or a local closure."""
        for closure in self.closures:
            if closure.start <= day <= closure.end:
                return f"closed: {closure.reason or 'local closure'}"
        if self._holidays is not None and day in self._holidays:
            return f"closed: bank holiday, {self._holidays.get(day)}"
        return None

    def open_at(self, at: dt.datetime) -> tuple[bool, str]:
        """Whether the team is working at ``at``, and in words why (its local time)."""
        local = at.astimezone(self.zone)
        day, now = local.date(), local.time()
        label = f"{self.id} {SHORT[day.weekday()]} {local.strftime('%d %b %H:%M %Z')}"
        closed = self.closed_because(day)
        if closed:
            return False, f"{label}, {closed}"
        ranges = self.hours.get(day.weekday(), [])
        for start, end in ranges:
            if start <= now < end:
                return True, f"{self.id} open {SHORT[day.weekday()]} {show(start, end)}"
        if not ranges:
            return False, f"{label}, closed on {WEEKDAYS[day.weekday()].capitalize()}s"
        spans = ", ".join(show(s, e) for s, e in ranges)
        return False, f"{label}, open {spans}"

    def next_opening(self, at: dt.datetime, horizon_days: int = 31) -> dt.datetime | None:
        """When the team next opens after ``at`` (None if not within the horizon)."""
        local = at.astimezone(self.zone)
        for offset in range(horizon_days + 1):
            day = local.date() + dt.timedelta(days=offset)
            if self.closed_because(day):
                continue
            for start, _ in sorted(self.hours.get(day.weekday(), [])):
                opening = dt.datetime.combine(day, start, tzinfo=self.zone)
                if opening > local:
                    return opening
        return None
