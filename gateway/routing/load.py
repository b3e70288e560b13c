"""Loading ``<policy dir>/routes/``: every name checked, every error at its file and line.

The routes live in a subdirectory because the policy loader reads every
``*.yaml`` directly in the agreement directory. A missing directory is no
error: every party then receives at its default desk.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.errors import FieldProblem, PolicyLoadError
from gateway.policy.bundle import bundle_hash
from gateway.policy.fields import is_known
from gateway.policy.source import Source
from gateway.routing.calendar import Calendar, Closed, parse_days, parse_range
from gateway.routing.model import CalendarSpec, Closure, DeskSpec, RoutesDocument, RouteSpec
from gateway.routing.plan import Desk, Route, Routes

if TYPE_CHECKING:
    from gateway.policy.bundle import PolicyBundle

DEFAULT_ZONE = "Europe/London"


def route_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.yaml") if p.is_file())


def load_routes(directory: Path, bundle: PolicyBundle | None = None) -> Routes:
    """The routes in ``directory`` (``<policy dir>/routes/``), checked against the
    agreement's parties when ``bundle`` is given."""
    directory = Path(directory)
    parties = {p.id: p.name for p in bundle.parties.values()} if bundle else {}
    files = route_files(directory) if directory.is_dir() else []
    if not files:
        return Routes(desks={}, directory=directory, parties=parties)
    problems: list[FieldProblem] = []
    docs: list[tuple[Source, RoutesDocument]] = []
    for path in files:
        source = Source.read(path)
        try:
            docs.append((source, source.validate(RoutesDocument, "routes")))
        except PolicyLoadError as exc:
            problems += exc.problems or [FieldProblem("(file)", exc.detail, path.name)]
    if problems:
        raise PolicyLoadError(f"{directory}: the routes do not match the schema", problems)
    builder = _Builder(parties, bool(bundle))
    for source, doc in docs:
        builder.add(source, doc)
    builder.check_routes()
    if builder.problems:
        raise PolicyLoadError(f"{directory}: the routes do not load", builder.problems)
    return Routes(
        desks=builder.desks,
        routes=tuple(builder.routes),
        calendars=builder.calendars,
        timezone=builder.zone or ZoneInfo(DEFAULT_ZONE),
        directory=directory,
        files=tuple(files),
        locations=builder.locations,
        parties=parties,
        version=bundle_hash(files),
    )


class _Builder:
    """Merges routes files into checked desks, calendars and routes."""

    def __init__(self, parties: dict[str, str], check_parties: bool) -> None:
        self.parties = parties
        self.check_parties = check_parties
        self.problems: list[FieldProblem] = []
        self.zone: ZoneInfo | None = None
        self.zone_where = ""
        self.desks: dict[str, Desk] = {}
        self.calendars: dict[str, Calendar] = {}
        self.routes: list[Route] = []
        self.locations: dict[str, str] = {}
        self.pending: list[tuple[Source, int, RouteSpec]] = []

    def add(self, source: Source, doc: RoutesDocument) -> None:
        zone = self._zone(source, doc)
        for i, calendar in enumerate(doc.calendars):
            if self._fresh(source, ("calendars", i), "calendars", calendar.id):
                self.calendars[calendar.id] = self._calendar(source, i, calendar, zone)
        for i, desk in enumerate(doc.desks):
            if self._fresh(source, ("desks", i), "desks", desk.id):
                self.desks[desk.id] = self._desk(source, i, desk)
        for i, route in enumerate(doc.routes):
            if self._fresh(source, ("routes", i), "routes", route.id):
                self.pending.append((source, i, route))

    def _fresh(self, source: Source, loc: tuple[int | str, ...], kind: str, key: str) -> bool:
        first = self.locations.get(f"{kind}:{key}")
        if first is not None:
            self.problems.append(
                source.problem(loc, f"{key!r} is declared twice (first at {first})")
            )
            return False
        self.locations[f"{kind}:{key}"] = source.where(loc)
        return True

    def _zone(self, source: Source, doc: RoutesDocument) -> ZoneInfo:
        declared = "timezone" in doc.model_fields_set
        try:
            zone = ZoneInfo(doc.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            self.problems.append(
                source.problem(
                    ("timezone",),
                    f"unknown time zone {doc.timezone!r}; expected e.g. Europe/London",
                )
            )
            return self.zone or ZoneInfo(DEFAULT_ZONE)
        if declared:
            if self.zone is not None and self.zone.key != zone.key:
                self.problems.append(
                    source.problem(
                        ("timezone",),
                        f"{zone.key} differs from {self.zone.key} (at {self.zone_where}); "
                        "one agreement, one time zone",
                    )
                )
            elif self.zone is None:
                self.zone, self.zone_where = zone, source.where(("timezone",))
        return self.zone or zone

    def _calendar(self, source: Source, i: int, spec: CalendarSpec, zone: ZoneInfo) -> Calendar:
        hours: dict[int, list[tuple[dt.time, dt.time]]] = {}
        for days_text, ranges in spec.hours.items():
            loc = ("calendars", i, "hours", days_text)
            try:
                days = parse_days(days_text)
            except ValueError as exc:
                self.problems.append(source.problem(loc, str(exc)))
                continue
            for text in [ranges] if isinstance(ranges, str) else ranges:
                try:
                    span = parse_range(text)
                except ValueError as exc:
                    self.problems.append(source.problem(loc, str(exc)))
                    continue
                for day in days:
                    hours.setdefault(day, []).append(span)
        closures = []
        for j, closure in enumerate(spec.closures):
            if isinstance(closure, Closure):
                end = closure.to or closure.from_
                if end < closure.from_:
                    self.problems.append(
                        source.problem(("calendars", i, "closures", j, "to"), "to is before from")
                    )
                closures.append(Closed(closure.from_, end, closure.reason))
            else:
                closures.append(Closed(closure, closure, "local closure"))
        return Calendar(spec.id, zone, hours, spec.closed_on_bank_holidays, closures)

    def _desk(self, source: Source, i: int, spec: DeskSpec) -> Desk:
        self._party(source, ("desks", i, "party"), spec.party)
        if spec.id in self.parties and spec.id != spec.party:
            self.problems.append(
                source.problem(
                    ("desks", i, "id"),
                    f"{spec.id!r} is the id of the party's default desk; a desk of "
                    f"{spec.party} needs another id",
                )
            )
        return Desk(
            spec.id,
            spec.party,
            spec.name,
            tuple(spec.staff),
            tuple(spec.names),
            spec.always_open,
        )

    def _party(self, source: Source, loc: tuple[int | str, ...], party: str) -> None:
        if self.check_parties and party not in self.parties:
            known = ", ".join(self.parties)
            self.problems.append(
                source.problem(loc, f"unknown party {party!r}; the agreement's parties: {known}")
            )

    def check_routes(self) -> None:
        for source, i, spec in self.pending:
            self._route(source, i, spec)

    def _route(self, source: Source, i: int, spec: RouteSpec) -> None:
        loc: tuple[int | str, ...] = ("routes", i)
        before = len(self.problems)
        self._party(source, (*loc, "party"), spec.party)
        if spec.calendar is not None and spec.calendar not in self.calendars:
            known = ", ".join(self.calendars) or "none declared"
            self.problems.append(
                source.problem(
                    (*loc, "calendar"),
                    f"unknown calendar {spec.calendar!r}; expected one of: {known}",
                )
            )
        if isinstance(spec.named_officer, list):
            for j, path in enumerate(spec.named_officer):
                if not is_known(path):
                    self.problems.append(
                        source.problem(
                            (*loc, "named_officer", j), f"unknown canonical field {path!r}"
                        )
                    )
        targets = [("in_hours", spec.in_hours)]
        if spec.out_of_hours is not None:
            targets.append(("out_of_hours", spec.out_of_hours))
        for key, target in targets:
            desks: list[tuple[tuple[int | str, ...], str]] = [((key, "desk"), target.desk)]
            desks += [
                ((key, "escalation", j, "desk"), e.desk) for j, e in enumerate(target.escalation)
            ]
            for where, desk_id in desks:
                self._route_desk(source, (*loc, *where), spec, desk_id)
        if len(self.problems) == before:
            self.routes.append(Route(spec, source.where(loc)))

    def _route_desk(
        self, source: Source, loc: tuple[int | str, ...], spec: RouteSpec, desk_id: str
    ) -> None:
        desk = self.desks.get(desk_id)
        if desk is None and desk_id not in self.parties:
            known = ", ".join([*self.desks, *(p for p in self.parties if p not in self.desks)])
            self.problems.append(
                source.problem(
                    loc,
                    f"unknown desk {desk_id!r}; expected a desk id or a party id (its "
                    f"default desk): {known or 'none declared'}",
                )
            )
            return
        party = desk.party if desk is not None else desk_id
        if party != spec.party and not spec.fallback_party_ok:
            self.problems.append(
                source.problem(
                    loc,
                    f"desk {desk_id!r} belongs to {party}, but the policy permitted only "
                    f"{spec.party}; if {party} may receive {spec.party}'s copy, say so "
                    "with fallback_party_ok: true",
                )
            )
