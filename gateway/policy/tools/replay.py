"""Replay: a dry run of a candidate agreement against the exchanges actually recorded.

Each recorded exchange is decided again under the candidate and minimised (in
memory, nothing delivered); the result is compared with the decision records
stored at the time. Changes are grouped per flow (sender -> recipient,
category) so a board sees what signing the candidate would change in practice.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from contracts import Exchange
from gateway.policy.bundle import PolicyBundle
from gateway.policy.engine import decide
from gateway.policy.minimise import minimise_for

REPLAY_KEY = b"replay-dry-run"  # disclosed paths do not depend on the key
EXAMPLES = 3


@dataclass
class FlowChange:
    """What would change for one (sender, recipient, category)."""

    exchanges: int = 0
    unchanged: int = 0
    newly_permitted: int = 0
    newly_denied: int = 0
    rule_changes: Counter[str] = field(default_factory=Counter)  # "old -> new" -> count
    fields_added: Counter[str] = field(default_factory=Counter)
    fields_removed: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return self.exchanges - self.unchanged


@dataclass
class ReplayReport:
    candidate_version: str
    exchanges: int = 0
    decisions: int = 0
    flows: dict[tuple[str, str, str], FlowChange] = field(
        default_factory=lambda: defaultdict(FlowChange)
    )

    @property
    def changed(self) -> int:
        return sum(f.changed for f in self.flows.values())

    def render(self) -> str:
        lines = [
            f"Replayed {self.exchanges} recorded exchange(s), {self.decisions} decision(s), "
            f"under candidate {self.candidate_version}.",
            f"{self.changed} decision(s) would change; nothing was delivered.",
        ]
        for (sender, recipient, category), change in sorted(self.flows.items()):
            if not change.changed:
                continue
            lines.append("")
            lines.append(
                f"{sender} -> {recipient} ({category}): {change.changed} of "
                f"{change.exchanges} would change"
            )
            if change.newly_permitted:
                lines.append(f"  newly permitted: {change.newly_permitted}")
            if change.newly_denied:
                lines.append(f"  newly denied: {change.newly_denied}")
            for rules, count in sorted(change.rule_changes.items()):
                lines.append(f"  decided by {rules}: {count}")
            for path, count in sorted(change.fields_added.items()):
                lines.append(f"  + {path} would now be disclosed ({count})")
            for path, count in sorted(change.fields_removed.items()):
                lines.append(f"  - {path} would no longer be disclosed ({count})")
            lines.append(f"  e.g. exchange {', '.join(change.examples)}")
        return "\n".join(lines)


def _disclosed(bundle_decision: Any, record: dict[str, Any]) -> set[str]:
    if not bundle_decision.permitted:
        return set()
    return set(minimise_for(bundle_decision, record, REPLAY_KEY).disclosed)


def replay(
    candidate: PolicyBundle, recorded: Iterable[tuple[Exchange, list[dict[str, Any]]]]
) -> ReplayReport:
    report = ReplayReport(candidate.version)
    for exchange, old_records in recorded:
        report.exchanges += 1
        old = {r["recipient"]: r for r in old_records}
        record = exchange.model_dump(mode="json")
        new = {d.recipient: d for d in decide(candidate, exchange)}
        for recipient in sorted(set(old) | set(new)):
            report.decisions += 1
            key = (exchange.source_partner, recipient, str(exchange.category))
            change = report.flows[key]
            change.exchanges += 1
            before = old.get(recipient, {"effect": "deny", "rules": ["(not a party then)"]})
            after = new.get(recipient)
            after_effect = after.effect if after else "deny"
            after_rules = list(after.rules) if after else ["(not a party now)"]
            before_fields = set(before.get("disclosed") or [])
            after_fields = _disclosed(after, record) if after else set()
            same = (
                before["effect"] == after_effect
                and list(before.get("rules") or []) == after_rules
                and before_fields == after_fields
            )
            if same:
                change.unchanged += 1
                continue
            if before["effect"] != after_effect:
                if after_effect == "permit":
                    change.newly_permitted += 1
                else:
                    change.newly_denied += 1
            if list(before.get("rules") or []) != after_rules:
                old_rules = ",".join(before.get("rules") or [])
                change.rule_changes[f"{old_rules} -> {','.join(after_rules)}"] += 1
            change.fields_added.update(after_fields - before_fields)
            change.fields_removed.update(before_fields - after_fields)
            if len(change.examples) < EXAMPLES:
                change.examples.append(str(exchange.exchange_id))
    return report
