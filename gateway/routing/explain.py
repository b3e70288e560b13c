"""A route plan in words, for ``gateway routes explain``: which route, why, and who when."""

from __future__ import annotations

import datetime as dt

from gateway.routing.plan import RoutePlan, Routes, words


def render(routes: Routes, plan: RoutePlan, at: dt.datetime) -> str:
    local = at.astimezone(routes.timezone)
    hours = {True: "in hours", False: "out of hours", None: "no calendar"}[plan.in_hours]
    lines = [
        f"{plan.party} at {local.isoformat()} ({routes.timezone.key}): "
        f"route {plan.route or 'none (default desk)'}, {hours}",
        *(f"  - {reason}" for reason in plan.why),
        "steps:",
    ]
    deadline = at
    for i, step in enumerate(plan.steps):
        desk = routes.desk(step.desk)
        when = (
            "now"
            if i == 0
            else f"if not acknowledged by {deadline.astimezone(routes.timezone):%a %d %b %H:%M %Z}"
        )
        lines.append(f"  {i + 1}. {step.desk} ({desk.name}; {step.party}) {when}")
        lines.append(f"     acknowledge within {words(step.acknowledge_within)}: {step.why}")
        if step.acknowledge_within is None:
            break
        deadline = deadline + step.acknowledge_within
    return "\n".join(lines)
