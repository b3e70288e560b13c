"""Minimisation: keep only what a decision allows, transformed as the flow says.

Works on the JSON form of a canonical record, walking it against the
decision's compiled plan (see :mod:`gateway.policy.plan`). The result lists
the leaf paths disclosed, removed and transformed, never their values, so the
audit entry can say exactly what crossed and in what form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gateway.policy.compile import only_owned
from gateway.policy.model import FieldRule, Transform
from gateway.policy.plan import Action, Node, PlanBuilder
from gateway.policy.transforms import TRANSFORMS, Context, as_date

_DROP = object()


@dataclass(frozen=True)
class Minimised:
    record: dict[str, Any]
    disclosed: tuple[str, ...]
    removed: tuple[str, ...]
    #: (leaf path, transform) for every disclosed leaf that did not cross as is.
    transformed: tuple[tuple[str, str], ...] = ()

    def as_audit(self) -> dict[str, Any]:
        """Paths and transform names only: safe to log and to chain."""
        return {
            "disclosed": list(self.disclosed),
            "removed": list(self.removed),
            "transformed": [{"path": p, "transform": t} for p, t in self.transformed],
        }


@dataclass
class _Walk:
    ctx: Context
    disclosed: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    transformed: dict[str, str] = field(default_factory=dict)
    trace: dict[str, set[str]] | None = None  # path -> what happened and why, for explain

    def value(self, value: Any, node: Node | None, path: str, action: Action | None) -> Any:
        if node is not None and node.action is not None:
            action = node.action
        if isinstance(value, dict):
            kept = {}
            children = node.children if node is not None else None
            for key, child in value.items():
                if child is None:
                    continue  # absent: neither disclosed nor removed
                sub = children.get(key) if children else None
                result = self.value(child, sub, f"{path}.{key}" if path else key, action)
                if result is not _DROP:
                    kept[key] = result
            return kept if kept else _DROP
        if isinstance(value, list):
            return self.items(value, node, path + "[]", action)
        if value is None:
            return _DROP
        return self.leaf(value, path, action)

    def items(self, value: list[Any], node: Node | None, path: str, action: Action | None) -> Any:
        variants = node.by_role if node is not None else None
        kept = []
        for item in value:
            item_node = node
            if variants and isinstance(item, dict) and isinstance(role := item.get("role"), str):
                item_node = variants.get(role, node)
            result = self.value(item, item_node, path, action)
            if result is not _DROP:
                kept.append(result)
        if not value and action is not None and action.transform is not Transform.DROP:
            return []
        return kept if kept else _DROP

    def leaf(self, value: Any, path: str, action: Action | None) -> Any:
        if action is None or action.transform is Transform.DROP:
            self.removed.add(path)
            if self.trace is not None:
                why = f"removed by {action.source}" if action else "removed: no rule shares it"
                self.trace.setdefault(path, set()).add(why)
            return _DROP
        self.disclosed.add(path)
        transform = action.transform
        if transform is not Transform.KEEP:
            self.transformed[path] = transform.value
            value = TRANSFORMS[transform](value, self.ctx, action.rule)
        if self.trace is not None:
            self.trace.setdefault(path, set()).add(f"{transform.value} by {action.source}")
        return value


def _record_date(record: dict[str, Any]) -> Any:
    return as_date(record.get("submitted_at")) or datetime.now(UTC).date()


def apply_plan(
    plan: Node,
    record: dict[str, Any],
    recipient: str,
    pseudonym_key: bytes = b"",
    trace: dict[str, set[str]] | None = None,
) -> Minimised:
    walk = _Walk(Context(recipient, _record_date(record), pseudonym_key), trace=trace)
    kept = walk.value(record, plan, "", None)
    return Minimised(
        record=kept if isinstance(kept, dict) else {},
        disclosed=tuple(sorted(walk.disclosed)),
        removed=tuple(sorted(walk.removed)),
        transformed=tuple(sorted(walk.transformed.items())),
    )


def minimise(record: dict[str, Any], allow: tuple[str, ...] | list[str]) -> Minimised:
    """Keep the envelope and the ``allow`` paths as they are; a plain allow list."""
    builder = PlanBuilder()
    for path in allow:
        builder.share(FieldRule(path=path), "allow-list")
    return apply_plan(builder.build(), record, recipient="")


def minimise_for(decision: Any, record: dict[str, Any], pseudonym_key: bytes = b"") -> Minimised:
    """Minimise ``record`` as a permit ``decision`` says (the pipeline's entry point).

    ``pseudonym_key`` keys per-recipient pseudonyms; it comes from settings,
    never from the policy files. A deny discloses nothing.
    """
    if not decision.permitted or decision.plan is None:
        return apply_plan(Node(), record, decision.recipient)
    # The copy names the purpose it was permitted under, not every purpose declared.
    record = {**record, "purpose": decision.purpose, "purposes": [decision.purpose]}
    if decision.owned is not None:
        record = only_owned(record, decision.owned)
    return apply_plan(decision.plan, record, decision.recipient, pseudonym_key)
