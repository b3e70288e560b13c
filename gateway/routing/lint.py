"""Lint for routes: what loads but would misroute, every finding at once.

Loading refuses unknown names and bad times. Lint adds routes that can never
match, desks nobody staffs, escalation back to a desk already tried, urgent
copies that would wait out of hours for an office to open, and calendars
that are never open.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from contracts import Urgency
from gateway.errors import PolicyLoadError
from gateway.policy.tools.lint import ERROR, WARNING, Finding
from gateway.routing.load import load_routes
from gateway.routing.model import RouteSpec
from gateway.routing.plan import Routes

if TYPE_CHECKING:
    from gateway.policy.bundle import PolicyBundle

URGENT = frozenset({Urgency.URGENT, Urgency.IMMEDIATE})


def lint(
    directory: Path, bundle: PolicyBundle | None = None
) -> tuple[Routes | None, list[Finding]]:
    """Load ``directory`` (``<policy dir>/routes/``) and check what it means."""
    try:
        routes = load_routes(directory, bundle)
    except PolicyLoadError as exc:
        findings = [
            Finding(ERROR, str(p.record or directory), f"{p.field}: {p.message}")
            for p in exc.problems
        ] or [Finding(ERROR, str(directory), exc.detail)]
        return None, findings
    return routes, check(routes)


def check(routes: Routes) -> list[Finding]:
    findings: list[Finding] = []
    findings += _unreachable(routes)
    findings += _chains(routes)
    findings += _urgent_without_fallback(routes)
    findings += _desks(routes)
    findings += _calendars(routes)
    return findings


def _covers(first: list[str] | None, later: list[str] | None) -> bool:
    """Whether a condition of ``first`` holds whenever ``later``'s does."""
    if first is None:
        return True
    if later is None:
        return False
    return {v.casefold() for v in later} <= {v.casefold() for v in first}


def _shadows(first: RouteSpec, later: RouteSpec) -> bool:
    return (
        first.party == later.party
        and _covers(first.categories, later.categories)  # type: ignore[arg-type]
        and _covers(first.urgency, later.urgency)  # type: ignore[arg-type]
        and (first.areas is None or (set(first.roles) >= set(later.roles)))
        and _covers(first.areas, later.areas)
        and _covers(first.pdus, later.pdus)
    )


def _unreachable(routes: Routes) -> list[Finding]:
    out = []
    for i, later in enumerate(routes.routes):
        for first in routes.routes[:i]:
            if _shadows(first.spec, later.spec):
                out.append(
                    Finding(
                        ERROR,
                        later.where,
                        f"route {later.id!r} can never match: route {first.id!r} "
                        f"({first.where}) comes first and always matches when it would",
                    )
                )
                break
    return out


def _chains(routes: Routes) -> list[Finding]:
    out = []
    for route in routes.routes:
        for key in ("in_hours", "out_of_hours"):
            target = getattr(route.spec, key)
            if target is None:
                continue
            chain = [target.desk, *(e.desk for e in target.escalation)]
            repeated = sorted({d for d in chain if chain.count(d) > 1})
            if repeated:
                out.append(
                    Finding(
                        ERROR,
                        route.where,
                        f"route {route.id!r}: the {key} chain escalates to "
                        f"{', '.join(repeated)} again: an escalation goes to someone else",
                    )
                )
    return out


def _urgent_without_fallback(routes: Routes) -> list[Finding]:
    """An urgent copy out of hours must reach a 24/7 function, never wait for Monday."""
    out = []
    caught: dict[str, set[Urgency]] = {}
    for route in routes.routes:
        spec = route.spec
        urgencies = set(spec.urgency) if spec.urgency is not None else set(Urgency)
        urgent = (urgencies & URGENT) - caught.get(spec.party, set())
        if spec.categories is None and spec.areas is None and spec.pdus is None:
            caught.setdefault(spec.party, set()).update(urgencies)
        if not urgent or spec.calendar is None:
            continue
        if spec.out_of_hours is None:
            if not routes.desk(spec.in_hours.desk).always_open:
                out.append(
                    Finding(
                        ERROR,
                        route.where,
                        f"route {route.id!r} takes {', '.join(sorted(urgent))} copies for "
                        f"{spec.party} but has no out_of_hours fallback: out of hours they "
                        f"would wait for {spec.calendar} to open",
                    )
                )
        elif not routes.desk(spec.out_of_hours.desk).always_open:
            out.append(
                Finding(
                    WARNING,
                    route.where,
                    f"route {route.id!r}: the out-of-hours desk {spec.out_of_hours.desk!r} "
                    "is not always_open (a 24/7 function)",
                )
            )
    return out


def _used_desks(routes: Routes) -> set[str]:
    used = set()
    for route in routes.routes:
        for target in (route.spec.in_hours, route.spec.out_of_hours):
            if target is not None:
                used |= {target.desk, *(e.desk for e in target.escalation)}
    return used


def _desks(routes: Routes) -> list[Finding]:
    out = []
    used = _used_desks(routes)
    named = {
        d.id
        for d in routes.desks.values()
        if d.names
        and any(r.spec.officer_fields() and r.spec.party == d.party for r in routes.routes)
    }
    for desk in routes.desks.values():
        where = routes.locations.get(f"desks:{desk.id}", str(routes.directory))
        if not desk.staff:
            out.append(
                Finding(WARNING, where, f"desk {desk.id!r} has no staff: nobody can acknowledge")
            )
        if desk.id not in used and desk.id not in named:
            out.append(Finding(WARNING, where, f"desk {desk.id!r} is on no route"))
    return out


def _calendars(routes: Routes) -> list[Finding]:
    out = []
    used = {r.spec.calendar for r in routes.routes}
    for calendar in routes.calendars.values():
        where = routes.locations.get(f"calendars:{calendar.id}", str(routes.directory))
        if not calendar.has_hours:
            out.append(
                Finding(ERROR, where, f"calendar {calendar.id!r} has no hours: it is never open")
            )
        if calendar.id not in used:
            out.append(Finding(WARNING, where, f"calendar {calendar.id!r} is used by no route"))
    return out
