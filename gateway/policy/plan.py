"""A flow's minimisation compiled, per recipient, into a tree of field actions.

The tree mirrors the record: each node may carry an action (keep, a
transform, or drop) that applies to everything beneath it unless a deeper node
says otherwise. Prohibitions and contract marks are folded in as drops when
the bundle loads, so deny beats permit without any work per record. A list of
subjects can carry a variant tree per role (a victim's address is dropped for
a perpetrator-facing recipient; the perpetrator's is not).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from gateway.policy.fields import ENVELOPE_PATHS, Segments, segments
from gateway.policy.model import FieldRule, Transform


@dataclass(frozen=True)
class Action:
    rule: FieldRule
    source: str  # the flow, prohibition or contract mark that set it
    transform: Transform = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "transform", self.rule.transform)  # read per leaf: keep it cheap


@dataclass
class Node:
    action: Action | None = None
    children: dict[str, Node] = field(default_factory=dict)
    by_role: dict[str, Node] | None = None

    def at(self, path: Segments) -> Node:
        node = self
        for name in path:
            node = node.children.setdefault(name, Node())
        return node


def _drop(source: str, path: Segments) -> Action:
    return Action(FieldRule(path=".".join(path), transform=Transform.DROP), source)


@dataclass
class PlanBuilder:
    """Builds one plan: envelope, a flow's fields, then drops that beat them."""

    root: Node = field(default_factory=Node)
    role_drops: dict[str, list[tuple[Segments, str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for path in ENVELOPE_PATHS:
            self.root.at((path,)).action = Action(FieldRule(path=path), "envelope")

    def share(self, rule: FieldRule, source: str) -> None:
        path = segments(rule.path)
        node = self.root.at(path)
        node.action = Action(rule, source)
        if rule.transform is Transform.DROP:
            node.children.clear()

    def forbid(self, path: Segments, source: str, roles: frozenset[str] = frozenset()) -> None:
        if roles and path[:1] == ("subjects",):
            for role in roles:
                self.role_drops.setdefault(role, []).append((path[1:], source))
            return
        node = self.root.at(path)
        node.action = _drop(source, path)
        node.children.clear()

    def build(self) -> Node:
        if self.role_drops:
            subjects = self.root.at(("subjects",))
            variants = {}
            for role, drops in self.role_drops.items():
                variant = copy.deepcopy(subjects)
                variant.by_role = None
                for path, source in drops:
                    node = variant.at(path)
                    node.action = _drop(f"{source} (for a {role})", ("subjects", *path))
                    node.children.clear()
                variants[role] = variant
            subjects.by_role = variants
        return self.root
