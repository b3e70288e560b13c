"""Who at a permitted party receives a copy now, and who next if nobody acknowledges.

The policy decides which organisation may receive; a :class:`Routes` decides the
desk there, by the first route (in file order) whose conditions hold, by the
hours of its calendar at the moment given, and by the officer the record names.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from contracts import Exchange
from gateway.policy.model import parse_period
from gateway.routing.calendar import Calendar
from gateway.routing.model import RouteSpec, Target

#: An acknowledgement deadline is minutes to weeks: a month would be no deadline at all.
_ROUTE_UNITS = re.compile(r"\b(minute|hour|day|week)s?$")


def period(text: str) -> dt.timedelta:
    """``15 minutes`` -> timedelta(minutes=15): the words policy obligations use
    (``parse_period``), in the units a route's deadline may take."""
    if not _ROUTE_UNITS.search(text.strip()):
        raise ValueError(f"{text!r} is not a period like '15 minutes' or '2 hours'")
    return parse_period(text)


def words(delta: dt.timedelta | None) -> str:
    if delta is None:
        return "no deadline"
    minutes = int(delta.total_seconds() // 60)
    for size, unit in ((10080, "week"), (1440, "day"), (60, "hour"), (1, "minute")):
        if minutes % size == 0 and minutes >= size:
            n = minutes // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return str(delta)


@dataclass(frozen=True)
class Desk:
    """Who at a party receives: a team inbox, a duty rota, an officer."""

    id: str
    party: str
    name: str
    staff: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    always_open: bool = False
    #: False for a party's default desk (id = the party id), which no file declared.
    declared: bool = True

    def answers_to(self, officer: str) -> bool:
        wanted = " ".join(officer.split()).casefold()
        return any(wanted == " ".join(n.split()).casefold() for n in self.names)


@dataclass(frozen=True)
class Step:
    desk: str  # a desk id
    party: str  # the desk's party
    acknowledge_within: dt.timedelta | None
    why: str  # in words: "in hours (hru-office open Mon 08:00-16:00)", "escalation step 2"


@dataclass(frozen=True)
class RoutePlan:
    party: str
    route: str | None  # the route id that matched, None for the party's default desk
    in_hours: bool | None
    steps: tuple[Step, ...]  # steps[0] receives now; each later one after the previous deadline
    why: tuple[str, ...]


@dataclass(frozen=True)
class Route:
    """A route as written, with where it was written."""

    spec: RouteSpec
    where: str

    @property
    def id(self) -> str:
        return self.spec.id


def _lower(values: list[str] | None) -> set[str] | None:
    return None if values is None else {v.strip().casefold() for v in values}


def places(route: RouteSpec, exchange: Exchange) -> tuple[set[str], set[str]]:
    """The record's local authorities and probation PDUs for a route's roles (case-folded)."""
    roles = set(route.roles)
    subjects = [s for s in exchange.subjects if s.role in roles]
    areas = {
        s.address.local_authority.strip().casefold()
        for s in subjects
        if s.address is not None and s.address.local_authority
    }
    pdus = {s.probation_pdu.strip().casefold() for s in subjects if s.probation_pdu}
    probation = exchange.payload.probation
    if probation is not None and probation.pdu:
        pdus.add(probation.pdu.strip().casefold())
    return areas, pdus


def values_at(data: Any, path: str) -> list[Any]:
    """Every value at a canonical path (``subjects[].x`` walks each subject)."""
    found = [data]
    for part in path.split("."):
        many = part.endswith("[]")
        key = part.removesuffix("[]")
        step: list[Any] = []
        for item in found:
            value = item.get(key) if isinstance(item, dict) else None
            if value is None:
                continue
            step.extend(value if many and isinstance(value, list) else [value])
        found = step
    return found


def mismatch(route: RouteSpec, exchange: Exchange) -> str | None:
    """Why the route does not apply to the record, or None when it does."""
    if route.categories is not None and exchange.category not in route.categories:
        return f"category {exchange.category} is not {', '.join(route.categories)}"
    if route.urgency is not None and exchange.urgency not in route.urgency:
        return f"urgency {exchange.urgency} is not {', '.join(route.urgency)}"
    areas, pdus = places(route, exchange)
    wanted_areas, wanted_pdus = _lower(route.areas), _lower(route.pdus)
    if wanted_areas is not None and not areas & wanted_areas:
        return f"no subject lives in {', '.join(route.areas or [])}"
    if wanted_pdus is not None and not pdus & wanted_pdus:
        return f"the record's PDU is not {', '.join(route.pdus or [])}"
    return None


@dataclass
class Routes:
    """The routing rules of one agreement, ready to plan."""

    desks: dict[str, Desk]
    routes: tuple[Route, ...] = ()
    calendars: dict[str, Calendar] = field(default_factory=dict)
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/London"))
    directory: Path | None = None
    files: tuple[Path, ...] = ()
    #: "desks:<id>", "calendars:<id>", "routes:<id>" -> "routes.yaml:12"
    locations: dict[str, str] = field(default_factory=dict)
    #: party id -> name, from the agreement (empty when loaded without it)
    parties: dict[str, str] = field(default_factory=dict)
    #: "sha256:..." over the routes files, as a policy bundle's version is: the
    #: audit trail's policy-change entries name the routes in force by it.
    version: str = "none"

    def desk(self, desk_id: str) -> Desk:
        """A desk by id; a party's id gives its default desk."""
        if desk_id in self.desks:
            return self.desks[desk_id]
        return Desk(desk_id, desk_id, self.parties.get(desk_id, desk_id), declared=False)

    def desks_of(self, person: str) -> list[str]:
        """The desks a signed-in person (OIDC subject or email) staffs."""
        wanted = person.strip().casefold()
        return sorted(
            d.id for d in self.desks.values() if any(wanted == s.casefold() for s in d.staff)
        )

    def plan(
        self,
        party: str,
        exchange: Exchange,
        at: dt.datetime,
        acknowledge_within: dt.timedelta | None = None,
    ) -> RoutePlan:
        """The desks, in order, that receive ``party``'s copy of ``exchange`` at ``at``."""
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("at needs a time zone (a naive time is ambiguous twice a year)")
        why: list[str] = []
        for route in self.routes:
            if route.spec.party != party:
                continue
            reason = mismatch(route.spec, exchange)
            if reason is None:
                return self._plan_route(route, exchange, at, acknowledge_within, why)
            why.append(f"route {route.id} ({route.where}) does not apply: {reason}")
        desk = self.desk(party)
        why.append(f"no route for {party} applies: its default desk")
        step = Step(desk.id, desk.party, acknowledge_within, f"default desk of {party}")
        return RoutePlan(party, None, None, (step,), tuple(why))

    def _plan_route(
        self,
        route: Route,
        exchange: Exchange,
        at: dt.datetime,
        obligation: dt.timedelta | None,
        why: list[str],
    ) -> RoutePlan:
        spec = route.spec
        why.append(f"route {route.id} ({route.where}) applies")
        in_hours: bool | None = None
        target: Target = spec.in_hours
        first = "always (the route has no calendar)"
        if spec.calendar is not None:
            calendar = self.calendars[spec.calendar]
            in_hours, hours = calendar.open_at(at)
            if in_hours:
                first = f"in hours ({hours})"
            elif spec.out_of_hours is not None:
                target, first = spec.out_of_hours, f"out of hours fallback ({hours})"
            else:
                opens = calendar.next_opening(at)
                when = opens.strftime("%a %d %b %H:%M %Z") if opens else "not within a month"
                first = (
                    f"out of hours, no fallback: waits for {calendar.id} ({hours}; opens {when})"
                )
            why.append(first)
        ack = _first_deadline(obligation, target)
        if obligation is not None and ack is not None and ack < obligation:
            why.append(f"the route's deadline ({words(ack)}) is shorter than the flow's")
        steps: list[Step] = []
        officer = self._officer(spec, exchange, why) if in_hours is not False else None
        if officer is not None and officer[0].id != target.desk:
            desk, name, path = officer
            steps.append(Step(desk.id, desk.party, ack, f"named officer {name} ({path})"))
        label = f"escalation step 2: {first}" if steps else first
        steps += self._chain(target, ack, label, len(steps))
        if in_hours and spec.calendar is not None and spec.out_of_hours is not None:
            calendar = self.calendars[spec.calendar]
            steps = self._hand_over_at_closing(
                steps, spec.party, calendar, spec.out_of_hours, at, obligation, why
            )
        return RoutePlan(spec.party, route.id, in_hours, tuple(steps), tuple(why))

    def _chain(
        self, target: Target, ack: dt.timedelta | None, label: str, taken: int
    ) -> list[Step]:
        """The target's desk and its escalation steps, numbered after ``taken`` steps."""
        head = self.desk(target.desk)
        steps = [Step(head.id, head.party, ack, label)]
        for escalation in target.escalation:
            desk = self.desk(escalation.desk)
            number = taken + len(steps) + 1
            within = _maybe(escalation.acknowledge_within)
            steps.append(Step(desk.id, desk.party, within, f"escalation step {number}"))
        return steps

    def _hand_over_at_closing(
        self,
        steps: list[Step],
        party: str,
        calendar: Calendar,
        fallback: Target,
        at: dt.datetime,
        obligation: dt.timedelta | None,
        why: list[str],
    ) -> list[Step]:
        """An in-hours chain whose next step, at the route's own party, would start
        after closing time hands over to the out-of-hours fallback from that step:
        nobody is escalated to at an office that has gone home. A step at another
        party's desk (a control room) keeps its own hours and stays."""
        start = at
        for number, step in enumerate(steps):
            if number and step.party == party and not calendar.open_at(start)[0]:
                local = start.astimezone(self.timezone).strftime("%a %H:%M %Z")
                why.append(
                    f"step {number + 1} would start at {local}, after {calendar.id} "
                    "closes: the out-of-hours fallback takes over from there"
                )
                label = f"escalation step {number + 1}: out of hours fallback after closing"
                ack = _first_deadline(obligation, fallback)
                return steps[:number] + self._chain(fallback, ack, label, number)
            if step.acknowledge_within is None:
                return steps  # no deadline: the chain never moves on by itself
            start += step.acknowledge_within
        return steps

    def _officer(
        self, spec: RouteSpec, exchange: Exchange, why: list[str]
    ) -> tuple[Desk, str, str] | None:
        """The desk of the officer the record names, among the route party's desks."""
        paths = spec.officer_fields()
        if not paths:
            return None
        data = exchange.model_dump(mode="json")
        for path in paths:
            for name in values_at(data, path):
                if not isinstance(name, str) or not name.strip():
                    continue
                for desk in self.desks.values():
                    if desk.party == spec.party and desk.answers_to(name):
                        return desk, name, path
                why.append(
                    f"the record names {name} ({path}); no desk of {spec.party} has that name"
                )
        return None


def _first_deadline(obligation: dt.timedelta | None, target: Target) -> dt.timedelta | None:
    """The first desk's deadline: the flow's or the target's, whichever is shorter."""
    deadlines = [d for d in (obligation, _maybe(target.acknowledge_within)) if d is not None]
    return min(deadlines) if deadlines else None


def _maybe(text: str | None) -> dt.timedelta | None:
    return period(text) if text else None
