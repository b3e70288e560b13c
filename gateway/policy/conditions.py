"""Compiling a flow's conditions into fast tests on a canonical exchange.

Each condition becomes a closure over a pre-split path, so deciding never
parses a path or looks a name up in the agreement.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from contracts import RiskLevel
from gateway.policy.fields import Segments, segments
from gateway.policy.model import ROUTING_OPERATORS, Condition, Party

#: Ordered values ``at_least`` understands besides numbers.
RANK = {str(level.value): i for i, level in enumerate(RiskLevel)}


def values_at(obj: Any, path: Segments, roles: frozenset[str] = frozenset()) -> list[Any]:
    """Every value at ``path`` in a model or dict, stepping through lists."""
    found: list[Any] = []
    _collect(obj, path, 0, roles, found)
    return found


def _collect(obj: Any, path: Segments, depth: int, roles: frozenset[str], out: list[Any]) -> None:
    if obj is None:
        return
    if isinstance(obj, list):
        for item in obj:
            if roles and depth == 1 and path[0] == "subjects" and _role(item) not in roles:
                continue
            _collect(item, path, depth, roles, out)
        return
    if depth == len(path):
        out.append(obj)
        return
    name = path[depth]
    child = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
    _collect(child, path, depth + 1, roles, out)


def _role(subject: Any) -> str | None:
    role = subject.get("role") if isinstance(subject, dict) else getattr(subject, "role", None)
    value = enum_value(role)
    return None if value is None else str(value)


def enum_value(value: Any) -> Any:
    """An enum member as its value (what policies compare against); anything else as is."""
    if isinstance(value, Enum):
        return value.value
    return value


def _rank(value: Any) -> float | None:
    value = enum_value(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value in RANK:
        return float(RANK[value])
    return None


@dataclass(frozen=True)
class CompiledCondition:
    text: str  # how explain, decisions and the matrix describe it
    test: Callable[[Any], bool]
    #: Set on a routing condition (the recipient's areas or PDU): the values it routes by.
    routes_by: Callable[[Any], list[Any]] | None = None

    def __call__(self, exchange: Any) -> bool:
        return self.test(exchange)

    def cannot_route(self, exchange: Any) -> bool:
        """A routing condition with nothing to route by: no subject of its roles has
        a value there (a suspect of no fixed abode, say)."""
        return self.routes_by is not None and not self.routes_by(exchange)


def describe(condition: Condition, recipient: Party | None = None) -> str:
    who = f" (of a {'/'.join(condition.roles)})" if condition.roles else ""
    op, value = condition.operator, condition.operand
    if op == "equals":
        words = f"is {value}"
    elif op == "in":
        words = f"is one of {', '.join(map(str, value))}"
    elif op == "not_in":
        words = f"is none of {', '.join(map(str, value))}"
    elif op == "at_least":
        words = f"is at least {value}"
    elif op == "in_recipient_areas":
        areas = f" ({', '.join(recipient.areas)})" if recipient is not None else ""
        words = f"is in the recipient's areas{areas}"
    elif op == "is_recipient_pdu":
        pdu = f" ({recipient.pdu})" if recipient is not None and recipient.pdu else ""
        words = f"is the recipient's probation delivery unit{pdu}"
    else:
        words = "is present" if value else "is absent"
    return f"{condition.field}{who} {words}"


def compile_condition(condition: Condition, recipient: Party | None = None) -> CompiledCondition:
    path = segments(condition.field)
    roles = frozenset(str(r) for r in condition.roles)
    op, operand = condition.operator, condition.operand

    def get(exchange: Any) -> list[Any]:
        return [enum_value(v) for v in values_at(exchange, path, roles)]

    if op == "equals":

        def test(x: Any) -> bool:
            return operand in get(x)
    elif op == "in":
        wanted = frozenset(operand)

        def test(x: Any) -> bool:
            return any(v in wanted for v in get(x))
    elif op == "not_in":
        unwanted = frozenset(operand)

        def test(x: Any) -> bool:
            return not any(v in unwanted for v in get(x))
    elif op in ROUTING_OPERATORS:
        places = _places(op, recipient)

        def test(x: Any) -> bool:
            return any(_place(v) in places for v in get(x))
    elif op == "at_least":
        floor = _rank(operand)

        def test(x: Any) -> bool:
            ranks = [_rank(v) for v in get(x)]
            return floor is not None and any(r is not None and r >= floor for r in ranks)
    else:

        def test(x: Any) -> bool:
            return bool(get(x)) is operand

    return CompiledCondition(
        text=describe(condition, recipient),
        test=test,
        routes_by=get if op in ROUTING_OPERATORS else None,
    )


def _place(value: Any) -> Any:
    """Areas and PDUs compare without regard to case or spacing ('north' is 'North')."""
    return value.strip().casefold() if isinstance(value, str) else value


def _places(op: str, recipient: Party | None) -> frozenset[Any]:
    if recipient is None:
        return frozenset()
    named = recipient.areas if op == "in_recipient_areas" else [recipient.pdu or ""]
    return frozenset(_place(v) for v in named if v)
