"""Diff two agreements by what they actually disclose, in the words a board approves.

The ``fields`` lists as written are not what crosses: the catalogue, the
prohibitions, the contract marks (a victim's address never reaches a
perpetrator-facing party) and the order in which flows are tried all change
it. So each bundle is first reduced to its disclosures, read from the
minimisation plans the engine itself compiled (``bundle.index``): for every
sender, category, purpose and recipient, which leaf field paths cross and in
what form. The two sets are then compared path by path:

- OPENS: a recipient newly receives a field;
- CLOSES: a recipient no longer receives it;
- CHANGES: it still receives it, in another form (truncated -> in full).

The terms that do not show in a field (parties, lawful bases, conditions,
consent, obligations, dates, prohibitions as written) follow as a second list.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from contracts import Exchange, SubjectRole, leaf_paths
from gateway.policy.bundle import PolicyBundle
from gateway.policy.compile import CompiledFlow
from gateway.policy.conditions import describe
from gateway.policy.fields import ENVELOPE_PATHS, segments
from gateway.policy.model import ANY, FieldRule, Flow, Prohibition, Transform
from gateway.policy.plan import Action, Node

OPENS, CLOSES, CHANGES = "OPENS", "CLOSES", "CHANGES"
ROLES = tuple(str(r) for r in SubjectRole)


def _either(roles: list[str] | tuple[str, ...]) -> str:
    """'a perpetrator, a suspect or an offender'."""
    named = [f"{'an' if r[0] in 'aeiou' else 'a'} {r}" for r in roles]
    return named[0] if len(named) == 1 else f"{', '.join(named[:-1])} or {named[-1]}"


# --- What a bundle discloses -------------------------------------------------


@dataclass(frozen=True)
class Grant:
    """How one field reaches one recipient: its form, and the flows that send it."""

    form: str  # "in full", "truncated to 280 characters", ... ("a or b" if flows differ)
    flows: tuple[str, ...]
    bases: tuple[str, ...]  # lawful basis (and Art 9 condition) ids of those flows


#: (sender, category, purpose, recipient, path, subject role or "") -> grant
Disclosures = dict[tuple[str, str, str, str, str, str], Grant]


def form(rule: FieldRule) -> str:
    """A transform in words."""
    match rule.transform:
        case Transform.KEEP:
            return "in full"
        case Transform.TRUNCATE:
            return f"truncated to {rule.max_length} characters"
        case Transform.MASK:
            return f"masked (last {rule.keep_last} shown)" if rule.keep_last else "masked"
        case Transform.AGE_BAND:
            return "as an age band"
        case Transform.POSTCODE_DISTRICT:
            return "as a postcode district"
        case Transform.PSEUDONYMISE:
            return "pseudonymised"
        case Transform.REDACT:
            return "redacted"
        case _:
            return "dropped"


def _action(plan: Node, path: tuple[str, ...], role: str) -> Action | None:
    """The action the minimiser applies to a leaf: the deepest one on its way down,
    taking a subject's role variant where the plan has one (as minimise walks a record)."""
    node: Node | None = plan
    action = plan.action
    for name in path:
        node = node.children.get(name) if node is not None else None
        if node is None:
            break
        if node.by_role is not None and role:
            node = node.by_role.get(role, node)
        if node.action is not None:
            action = node.action
    return action


def _leaves() -> list[tuple[str, tuple[str, ...]]]:
    return sorted(
        (p, segments(p)) for p in leaf_paths(Exchange) if segments(p)[0] not in ENVELOPE_PATHS
    )


def _reachable(flows: tuple[CompiledFlow, ...], purpose: str) -> list[CompiledFlow]:
    """The permits that can decide a record of this purpose, in the engine's order.

    An explicit deny that always applies stops everything; a permit that always
    applies stops the ones after it (the engine takes the first that holds)."""
    out = []
    for compiled in flows:
        flow = compiled.flow
        if compiled.purposes and purpose not in compiled.purposes:
            continue
        always = (
            not compiled.conditions
            and compiled.owned is None
            and not flow.valid_from
            and not flow.valid_until
        )
        if compiled.is_deny:
            if always:
                return []
            continue
        out.append(compiled)
        if always and compiled.consent is None:
            break
    return out


def disclosures(bundle: PolicyBundle) -> Disclosures:
    """Every (sender, category, purpose, recipient, leaf path, role) that crosses."""
    leaves = _leaves()
    out: Disclosures = {}
    for (sender, recipient, category), flows in sorted(bundle.index.items()):
        purposes = sorted({p for c in flows if not c.is_deny for p in c.purposes})
        for purpose in purposes:
            found: dict[tuple[str, str], list[tuple[str, CompiledFlow]]] = defaultdict(list)
            for compiled in _reachable(flows, purpose):
                assert compiled.plan is not None  # a permit always has one
                for path, segs in leaves:
                    roles = ROLES if segs[0] == "subjects" else ("",)
                    for role in roles:
                        action = _action(compiled.plan, segs, role)
                        if action is not None and action.transform is not Transform.DROP:
                            found[(path, role)].append((_form(action, compiled, segs), compiled))
            for (path, role), grants in found.items():
                flow_ids = tuple(dict.fromkeys(c.id for _, c in grants))
                bases = tuple(dict.fromkeys(_basis(bundle, c.flow, path) for _, c in grants))
                out[(sender, category, purpose, recipient, path, role)] = Grant(
                    form=" or ".join(sorted({f for f, _ in grants})), flows=flow_ids, bases=bases
                )
    return out


def _form(action: Action, compiled: CompiledFlow, path: tuple[str, ...]) -> str:
    """The field's form, saying so when a flow sends each recipient only its own items."""
    owned = compiled.owned
    if owned is not None and path[: len(owned.items)] == owned.items:
        return f"{form(action.rule)}, only the items it owns"
    return form(action.rule)


def _basis(bundle: PolicyBundle, flow: Flow, path: str) -> str:
    basis = flow.lawful_basis or ""
    if flow.special_category_condition and bundle.is_special(path):
        basis += f" + {flow.special_category_condition}"
    return basis


# --- The report --------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One field's change for one recipient, under one or more purposes and roles."""

    direction: str
    recipient: str
    sender: str
    category: str
    purposes: tuple[str, ...]
    path: str
    roles: tuple[str, ...]  # () when it concerns every subject, or is not a subject field
    was: Grant | None
    now: Grant | None

    def sentence(self, bundle_old: PolicyBundle, bundle_new: PolicyBundle) -> str:
        grant = self.now or self.was
        assert grant is not None
        bundle = bundle_new if self.now else bundle_old
        what = _field(bundle, self.path)
        if self.roles:
            others = [r for r in ROLES if r not in self.roles]
            if len(others) < len(self.roles):
                what += f" (of any subject but {_either(others)})"
            else:
                what += f" (of {_either(self.roles)} only)"
        whence = (
            f"from {self.sender} ({self.category.replace('_', ' ')}), "
            f"for {', '.join(self.purposes)}"
        )
        if self.direction == OPENS:
            assert self.now is not None
            head = f"{self.recipient} now receives {what} {self.now.form}"
        elif self.direction == CLOSES:
            head = f"{self.recipient} no longer receives {what}"
        else:
            assert self.now is not None and self.was is not None
            head = f"{self.recipient} now receives {what} {self.now.form} (was {self.was.form})"
        under = "; ".join(_citation(bundle, b) for b in grant.bases)
        flows = ("flows " if len(grant.flows) > 1 else "flow ") + ", ".join(grant.flows)
        return f"{head}, {whence}, under {under} ({flows})"

    def as_json(self) -> dict[str, Any]:
        return {
            "direction": self.direction,
            "recipient": self.recipient,
            "sender": self.sender,
            "category": self.category,
            "purposes": list(self.purposes),
            "path": self.path,
            "subject_roles": list(self.roles),
            "was": _grant_json(self.was),
            "now": _grant_json(self.now),
        }


def _grant_json(grant: Grant | None) -> dict[str, Any] | None:
    if grant is None:
        return None
    return {"form": grant.form, "flows": list(grant.flows), "lawful_bases": list(grant.bases)}


def _citation(bundle: PolicyBundle, basis: str) -> str:
    parts = []
    for part in basis.split(" + "):
        known = bundle.lawful_bases.get(part)
        parts.append(f"{known.citation} [{part}]" if known else part)
    return " with ".join(parts)


def _compare(old: Disclosures, new: Disclosures) -> list[Change]:
    """Field-level changes, subject roles and then purposes gathered into one line."""
    raw: dict[tuple[Any, ...], list[str]] = defaultdict(list)
    for key in sorted(set(old) | set(new)):
        was, now = old.get(key), new.get(key)
        if was is not None and now is not None and was.form == now.form:
            continue
        direction = OPENS if was is None else CLOSES if now is None else CHANGES
        sender, category, purpose, recipient, path, role = key
        raw[(direction, recipient, sender, category, purpose, path, was, now)].append(role)
    by_purpose: dict[tuple[Any, ...], list[str]] = defaultdict(list)
    for (direction, recipient, sender, category, purpose, path, was, now), roles in raw.items():
        subset = () if set(roles) in ({""}, set(ROLES)) else tuple(roles)
        by_purpose[(direction, recipient, sender, category, path, subset, was, now)].append(purpose)
    changes = [
        Change(d, r, s, c, tuple(sorted(purposes)), p, roles, was, now)
        for (d, r, s, c, p, roles, was, now), purposes in by_purpose.items()
    ]
    order = {OPENS: 0, CLOSES: 1, CHANGES: 2}
    return sorted(
        changes, key=lambda c: (order[c.direction], c.recipient, c.sender, c.category, c.path)
    )


@dataclass
class PolicyDiff:
    changes: list[Change] = field(default_factory=list)
    lines: list[tuple[str, str]] = field(default_factory=list)  # terms: (direction, sentence)

    def add(self, direction: str, sentence: str) -> None:
        self.lines.append((direction, sentence))

    @property
    def empty(self) -> bool:
        return not self.lines and not self.changes

    def count(self, direction: str) -> int:
        return sum(1 for c in self.changes if c.direction == direction)

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
        if self.changes:
            summary = (
                f"What is disclosed: this change opens {self.count(OPENS)}, closes "
                f"{self.count(CLOSES)} and changes the form of {self.count(CHANGES)} "
                "field(s) for a recipient."
            )
            body = [f"- {c.direction}: {c.sentence(old, new)}" for c in self.changes]
        else:
            summary, body = "What is disclosed: no field reaches anyone it did not, or stops.", []
        out = [*head, summary, "", *body]
        if self.lines:
            out += [
                "",
                f"The terms as written: {len(self.lines)} change(s).",
                "",
                *(f"- {d}: {s}" for d, s in self.lines),
            ]
        return "\n".join(out)

    def as_json(self, old: PolicyBundle, new: PolicyBundle) -> dict[str, Any]:
        return {
            "from": {
                "agreement": old.agreement_id,
                "version": old.agreement_version,
                "bundle": old.version,
            },
            "to": {
                "agreement": new.agreement_id,
                "version": new.agreement_version,
                "bundle": new.version,
            },
            "disclosures": [{**c.as_json(), "text": c.sentence(old, new)} for c in self.changes],
            "terms": [{"direction": d, "text": s} for d, s in self.lines],
        }


# --- The terms as written ----------------------------------------------------


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


def _set_change(
    out: PolicyDiff, widens: str, narrows: str, label: str, old: set[str], new: set[str]
) -> None:
    for item in sorted(new - old):
        out.add(widens, f"{label} now also {item}")
    for item in sorted(old - new):
        out.add(narrows, f"{label} no longer {item}")


def _flow_terms(out: PolicyDiff, a: Flow, b: Flow) -> None:
    """What a flow's fields cannot show: its basis, conditions, consent, duties, dates."""
    label = f"flow {b.id} ({', '.join(b.senders)} -> {', '.join(b.recipients)})"
    if a.effect != b.effect:
        return  # shows in the disclosures
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
        direction = OPENS if b.effect == "permit" and not b.when else CHANGES
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


def _terms(out: PolicyDiff, old: PolicyBundle, new: PolicyBundle) -> None:
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
    for flow in new.flows:
        if flow.id in old_flows and old_flows[flow.id] != flow:
            _flow_terms(out, old_flows[flow.id], flow)
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
    for path in sorted(set(old.catalogue) | set(new.catalogue)):
        if old.catalogue.get(path) != new.catalogue.get(path):
            was, now = old.catalogue.get(path) or "none", new.catalogue.get(path) or "none"
            out.add(CHANGES, f"catalogue: {path} is now {now} data (was {was})")


def diff(old: PolicyBundle, new: PolicyBundle) -> PolicyDiff:
    out = PolicyDiff(changes=_compare(disclosures(old), disclosures(new)))
    _terms(out, old, new)
    return out
