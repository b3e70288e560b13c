"""Diff two agreements in the words a governance board approves.

Each line says which way the change goes: OPENS (more can be shared, or
with more people), CLOSES (less), or CHANGES (the terms differ: lawful basis,
conditions, consent, obligations, dates). Special-category fields are flagged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.policy.bundle import PolicyBundle
from gateway.policy.conditions import describe
from gateway.policy.model import ANY, Flow, Prohibition

OPENS, CLOSES, CHANGES = "OPENS", "CLOSES", "CHANGES"


@dataclass
class PolicyDiff:
    lines: list[tuple[str, str]] = field(default_factory=list)  # (direction, sentence)

    def add(self, direction: str, sentence: str) -> None:
        self.lines.append((direction, sentence))

    @property
    def empty(self) -> bool:
        return not self.lines

    def count(self, direction: str) -> int:
        return sum(1 for d, _ in self.lines if d == direction)

    def render(self, old: PolicyBundle, new: PolicyBundle) -> str:
        head = [
            f"Policy change: {old.agreement_id} {old.agreement_version} -> "
            f"{new.agreement_id} {new.agreement_version}",
            f"  from {old.version}",
            f"  to   {new.version}",
            "",
        ]
        if self.empty:
            return "\n".join([*head, "No change to what is shared, with whom, or on what terms."])
        summary = (
            f"This change opens {self.count(OPENS)}, closes {self.count(CLOSES)} and "
            f"changes the terms of {self.count(CHANGES)} item(s)."
        )
        body = [f"- {d}: {s}" for d, s in self.lines]
        return "\n".join([*head, summary, "", *body])


def _names(bundle: PolicyBundle, ids: list[str]) -> str:
    if ANY in ids:
        return "any party"
    return ", ".join(f"{bundle.parties[i].name} ({i})" if i in bundle.parties else i for i in ids)


def _field(bundle: PolicyBundle, path: str) -> str:
    category = bundle.category_of(path)
    label = path
    if category is not None:
        label += f" [{category.id}]"
    if bundle.is_special(path):
        label += " (special category)"
    return label


def _fields(flow: Flow) -> dict[str, str]:
    return {r.path: r.transform.value for r in flow.field_rules()}


def _summary(bundle: PolicyBundle, flow: Flow) -> str:
    verb = "may share" if flow.effect == "permit" else "may never share"
    text = (
        f"flow {flow.id}: {_names(bundle, flow.senders)} {verb} "
        f"{', '.join(map(str, flow.categories))} with {_names(bundle, flow.recipients)}"
    )
    if flow.purposes:
        text += f" for {', '.join(flow.purposes)}"
    if flow.lawful_basis:
        text += f" under {flow.lawful_basis}"
    if flow.when:
        text += f", when {' and '.join(describe(c) for c in flow.when)}"
    if flow.fields:
        text += "; fields: " + ", ".join(_field(bundle, p) for p in _fields(flow))
    return text


def _set_change(
    out: PolicyDiff, widens: str, narrows: str, label: str, old: set[str], new: set[str]
) -> None:
    for item in sorted(new - old):
        out.add(widens, f"{label} now also {item}")
    for item in sorted(old - new):
        out.add(narrows, f"{label} no longer {item}")


def _flow_changes(
    out: PolicyDiff, old_b: PolicyBundle, new_b: PolicyBundle, a: Flow, b: Flow
) -> None:
    label = f"flow {b.id} ({', '.join(b.senders)} -> {', '.join(b.recipients)})"
    permit = b.effect == "permit"
    more, less = (OPENS, CLOSES) if permit else (CLOSES, OPENS)
    if a.effect != b.effect:
        out.add(OPENS if permit else CLOSES, f"{label} changes from {a.effect} to {b.effect}")
        return
    _set_change(out, more, less, f"{label}: sent by", set(a.senders), set(b.senders))
    _set_change(out, more, less, f"{label}: shared with", set(a.recipients), set(b.recipients))
    _set_change(
        out,
        more,
        less,
        f"{label}: covers",
        {str(c) for c in a.categories},
        {str(c) for c in b.categories},
    )
    _set_change(out, more, less, f"{label}: for purpose", set(a.purposes), set(b.purposes))
    old_fields, new_fields = _fields(a), _fields(b)
    for path in sorted(set(new_fields) - set(old_fields)):
        out.add(OPENS, f"{label} now also shares {_field(new_b, path)}")
    for path in sorted(set(old_fields) - set(new_fields)):
        out.add(CLOSES, f"{label} no longer shares {_field(old_b, path)}")
    for path in sorted(set(old_fields) & set(new_fields)):
        if old_fields[path] != new_fields[path]:
            out.add(
                CHANGES,
                f"{label}: {path} now crosses as {new_fields[path]} (was {old_fields[path]})",
            )
    if a.lawful_basis != b.lawful_basis:
        out.add(CHANGES, f"{label}: lawful basis {a.lawful_basis} -> {b.lawful_basis}")
    if a.special_category_condition != b.special_category_condition:
        out.add(
            CHANGES,
            f"{label}: Art 9 condition {a.special_category_condition} -> "
            f"{b.special_category_condition}",
        )
    if a.when != b.when:
        before = " and ".join(describe(c) for c in a.when) or "always"
        after = " and ".join(describe(c) for c in b.when) or "always"
        direction = OPENS if permit and not b.when else CHANGES
        out.add(direction, f"{label}: applies when {after} (was: when {before})")
    if a.consent != b.consent:
        before = ", ".join(a.consent.without_consent) if a.consent else "consent not required"
        after = ", ".join(b.consent.without_consent) if b.consent else "consent not required"
        out.add(CHANGES, f"{label}: consent terms now '{after}' (were '{before}')")
    if a.obligations != b.obligations:
        out.add(
            CHANGES,
            f"{label}: obligations now {'; '.join(b.obligations.as_terms()) or 'none'} "
            f"(were {'; '.join(a.obligations.as_terms()) or 'none'})",
        )
    if (a.valid_from, a.valid_until) != (b.valid_from, b.valid_until):
        out.add(CHANGES, f"{label}: in force {_period(b)} (was {_period(a)})")


def _period(flow: Flow) -> str:
    return f"{flow.valid_from or 'from the start'} to {flow.valid_until or 'open-ended'}"


def _prohibition(bundle: PolicyBundle, rule: Prohibition) -> str:
    to = _names(bundle, rule.to) if rule.to else ""
    if rule.to_tags:
        to += (" and " if to else "") + f"parties tagged {', '.join(rule.to_tags)}"
    who = f" of {'/'.join(map(str, rule.subject_roles))} subjects" if rule.subject_roles else ""
    return f"prohibition {rule.id}: {', '.join(rule.fields)}{who} never go to {to}"


def _prohibition_changes(
    out: PolicyDiff, bundle: PolicyBundle, a: Prohibition, b: Prohibition
) -> None:
    label = f"prohibition {b.id}"
    for path in sorted(set(a.fields) - set(b.fields)):
        out.add(OPENS, f"{label} no longer withholds {_field(bundle, path)}")
    for path in sorted(set(b.fields) - set(a.fields)):
        out.add(CLOSES, f"{label} now also withholds {_field(bundle, path)}")
    _set_change(out, CLOSES, OPENS, f"{label}: applies to", set(a.to), set(b.to))
    _set_change(
        out, CLOSES, OPENS, f"{label}: applies to parties tagged", set(a.to_tags), set(b.to_tags)
    )
    if a.subject_roles != b.subject_roles:
        roles = ", ".join(map(str, b.subject_roles)) or "every subject"
        out.add(CHANGES, f"{label}: now protects {roles}")


def diff(old: PolicyBundle, new: PolicyBundle) -> PolicyDiff:
    out = PolicyDiff()
    for party in sorted(set(new.parties) - set(old.parties)):
        out.add(CHANGES, f"new party {new.parties[party].name} ({party})")
    for party in sorted(set(old.parties) - set(new.parties)):
        out.add(CLOSES, f"party {old.parties[party].name} ({party}) leaves the agreement")
    for party in sorted(set(old.parties) & set(new.parties)):
        a, b = old.parties[party], new.parties[party]
        if a.perpetrator_facing and not b.perpetrator_facing:
            out.add(
                OPENS, f"{party} is no longer perpetrator-facing: it may receive victims' addresses"
            )
        if b.perpetrator_facing and not a.perpetrator_facing:
            out.add(CLOSES, f"{party} is now perpetrator-facing: victims' addresses are withheld")
        if b.honours_access_marks != a.honours_access_marks:
            direction = OPENS if b.honours_access_marks else CLOSES
            verb = "now receives" if b.honours_access_marks else "no longer receives"
            out.add(direction, f"{party} {verb} restricted or excluded cases")
        for area in sorted(set(b.areas) - set(a.areas)):
            out.add(OPENS, f"{party} now also covers {area}: its cases there reach it")
        for area in sorted(set(a.areas) - set(b.areas)):
            out.add(CLOSES, f"{party} no longer covers {area}")
        if set(a.tags) != set(b.tags):
            now, were = ", ".join(b.tags) or "none", ", ".join(a.tags) or "none"
            out.add(CHANGES, f"{party} tags now {now} (were {were})")
    old_flows = {f.id: f for f in old.flows}
    new_flows = {f.id: f for f in new.flows}
    for flow_id, flow in new_flows.items():
        if flow_id not in old_flows:
            out.add(OPENS if flow.effect == "permit" else CLOSES, "new " + _summary(new, flow))
        elif old_flows[flow_id] != flow:
            _flow_changes(out, old, new, old_flows[flow_id], flow)
    for flow_id, flow in old_flows.items():
        if flow_id not in new_flows:
            out.add(CLOSES if flow.effect == "permit" else OPENS, "removed " + _summary(old, flow))
    old_rules = {p.id: p for p in old.prohibitions}
    new_rules = {p.id: p for p in new.prohibitions}
    for rule_id, rule in new_rules.items():
        if rule_id not in old_rules:
            out.add(CLOSES, "new " + _prohibition(new, rule))
        elif old_rules[rule_id] != rule:
            _prohibition_changes(out, new, old_rules[rule_id], rule)
    for rule_id, rule in old_rules.items():
        if rule_id not in new_rules:
            out.add(OPENS, "removed " + _prohibition(old, rule))
    for basis_id, basis in new.lawful_bases.items():
        before = old.lawful_bases.get(basis_id)
        if before is not None and before.citation != basis.citation:
            out.add(CHANGES, f"lawful basis {basis_id} now cites {basis.citation!r}")
    return out
