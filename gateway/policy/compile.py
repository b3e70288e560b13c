"""Compiling flows into the lookup table the engine decides from.

Each (flow, recipient) pair becomes a :class:`CompiledFlow` holding its
purposes as a set, its conditions as closures, its consent test and its
minimisation plan with every prohibition and contract mark already folded in.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from contracts import SubjectRole
from contracts.marks import Mark
from gateway.policy.conditions import CompiledCondition, compile_condition, enum_value, values_at
from gateway.policy.fields import Segments, covers, marked, segments
from gateway.policy.model import ANY, Consent, Flow, Party, Prohibition, SafetyNet, Transform
from gateway.policy.plan import Node, PlanBuilder

VICTIM_LOCATION_RULE = "mark:victim-location"
#: Whose address a perpetrator-facing service may have: the perpetrator's own. A
#: child's or a witness's address is often the victim's, so it is held back too.
PERPETRATOR_ROLES = frozenset({"perpetrator", "suspect", "offender"})
LOCATION_HELD_BACK_FOR = frozenset(str(r) for r in SubjectRole) - PERPETRATOR_ROLES
FREE_TEXT_RULE = "mark:free-text"
#: How free text may cross under a flow that names no special category condition.
FREE_TEXT_SAFELY = (Transform.DROP, Transform.TRUNCATE, Transform.REDACT)
NOT_GIVEN = "not given"
GIVEN = "given"
NOT_REQUIRED = "not required"


@dataclass(frozen=True)
class ConsentOutcome:
    ok: bool
    consent: str  # given | not given | not required
    justification: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class CompiledConsent:
    rule: Consent
    given: frozenset[str] = field(init=False)
    status_path: tuple[str, ...] = field(init=False)
    justification_path: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "given", frozenset(str(v) for v in self.rule.given))
        object.__setattr__(self, "status_path", segments(self.rule.field))
        object.__setattr__(self, "justification_path", segments(self.rule.justification_field))

    def __call__(self, exchange: Any) -> ConsentOutcome:
        status = [str(enum_value(v)) for v in values_at(exchange, self.status_path)]
        if any(s in self.given for s in status):
            return ConsentOutcome(True, GIVEN)
        stated = [str(v) for v in values_at(exchange, self.justification_path)]
        for text in stated:
            code = text.strip().split(":", 1)[0].strip().lower()
            if code in self.rule.without_consent:
                return ConsentOutcome(True, NOT_GIVEN, justification=code)
        accepted = ", ".join(self.rule.without_consent) or "none"
        return ConsentOutcome(
            False,
            NOT_GIVEN,
            reason=f"consent not given and no accepted justification (accepted: {accepted})",
        )


@dataclass(frozen=True)
class OwnedBy:
    """A list whose items each name an owner, narrowed to one recipient's items."""

    items: Segments
    owner: str
    party: Party

    @property
    def text(self) -> str:
        return f"the record names the recipient as owner of an item of {'.'.join(self.items)}"

    def owns(self, item: Any) -> bool:
        name = item.get(self.owner) if isinstance(item, dict) else getattr(item, self.owner, None)
        return isinstance(name, str) and self.party.answers_to(name)

    def any_owned(self, exchange: Any) -> bool:
        return any(self.owns(item) for item in _items(exchange, self.items))


def _items(obj: Any, path: Segments) -> list[Any]:
    """The items of the list at ``path`` (a model or its JSON form)."""
    for name in path:
        if obj is None:
            return []
        obj = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
    return list(obj) if isinstance(obj, list) else []


def only_owned(record: dict[str, Any], owned: OwnedBy) -> dict[str, Any]:
    """``record`` with the owned list holding only the recipient's items; the rest of
    the record is shared, not copied."""
    *parents, last = owned.items
    top: dict[str, Any] = dict(record)
    node = top
    for name in parents:
        child = node.get(name)
        if not isinstance(child, dict):
            return top
        node[name] = node = dict(child)
    if isinstance(node.get(last), list):
        node[last] = [item for item in node[last] if owned.owns(item)]
    return top


@dataclass(frozen=True)
class CompiledFlow:
    flow: Flow
    recipient: str
    purposes: frozenset[str]
    conditions: tuple[CompiledCondition, ...]
    consent: CompiledConsent | None
    plan: Node | None = field(repr=False)
    allowed_fields: tuple[str, ...]
    obligations: tuple[str, ...]
    owned: OwnedBy | None = None

    @property
    def id(self) -> str:
        return self.flow.id

    @property
    def is_deny(self) -> bool:
        return self.flow.effect == "deny"

    def purpose_for(self, exchange: Any) -> str | None:
        """The first of the record's purposes this flow serves (a flow naming no
        purpose serves every one); None when it serves none of them."""
        declared: list[str] = exchange.purposes or [exchange.purpose]
        if not self.purposes:
            return declared[0]
        return next((p for p in declared if p in self.purposes), None)

    def checks(self, exchange: Any, today: date) -> list[tuple[str, bool]]:
        """Every test the flow makes, in order, and whether it held (for explain)."""
        flow = self.flow
        declared = ", ".join(exchange.purposes or [exchange.purpose])
        served = ", ".join(sorted(self.purposes))
        out = [
            (
                f"a purpose of the record ({declared}) is one of {served}"
                if self.purposes
                else "applies to every purpose",
                self.purpose_for(exchange) is not None,
            )
        ]
        if flow.valid_from:
            out.append((f"in force from {flow.valid_from}", flow.valid_from <= today))
        if flow.valid_until:
            out.append((f"in force until {flow.valid_until}", today <= flow.valid_until))
        out += [(c.text, c(exchange)) for c in self.conditions]
        if self.owned is not None:
            out.append((self.owned.text, self.owned.any_owned(exchange)))
        return out

    def miss(self, exchange: Any, today: date, purpose: str) -> str | None:
        """Why the flow does not apply for ``purpose``, or None when it does (consent aside)."""
        if self.purposes and purpose not in self.purposes:
            return f"purpose {purpose!r} is not one of its purposes"
        flow = self.flow
        if flow.valid_from and today < flow.valid_from:
            return f"not in force until {flow.valid_from}"
        if flow.valid_until and today > flow.valid_until:
            return f"expired on {flow.valid_until}"
        for condition in self.conditions:
            if not condition(exchange):
                return f"condition not met: {condition.text}"
        if self.owned is not None and not self.owned.any_owned(exchange):
            return f"condition not met: {self.owned.text}"
        return None

    def only_routing_fails(self, exchange: Any, today: date, purpose: str) -> bool:
        """Everything holds but a routing condition (the recipient's areas or PDU)."""
        routing = [c for c in self.conditions if c.routes_by is not None]
        return (
            bool(routing)
            and not all(c(exchange) for c in routing)
            and (not self.purposes or purpose in self.purposes)
            and not (self.flow.valid_from and today < self.flow.valid_from)
            and not (self.flow.valid_until and today > self.flow.valid_until)
            and all(c(exchange) for c in self.conditions if c.routes_by is None)
            and (self.owned is None or self.owned.any_owned(exchange))
        )

    def has_place_to_route(self, exchange: Any) -> bool:
        """The record gives a value for every routing condition of this flow (it has
        some: a flow without routing conditions routes by nothing)."""
        routing = [c for c in self.conditions if c.routes_by is not None]
        return bool(routing) and not any(c.cannot_route(exchange) for c in routing)

    def unroutable(self, exchange: Any) -> CompiledCondition | None:
        """The routing condition with nothing to route this record by (no area for a
        suspect of no fixed abode, say), if any."""
        return next((c for c in self.conditions if c.cannot_route(exchange)), None)


def _owned_by(flow: Flow, recipient: Party) -> OwnedBy | None:
    if flow.to_owners is None:
        return None
    return OwnedBy(segments(flow.to_owners.items), flow.to_owners.owner, recipient)


def applies_to(rule: Prohibition, party: Party) -> bool:
    return ANY in rule.to or party.id in rule.to or bool(set(rule.to_tags) & set(party.tags))


def build_plan(flow: Flow, recipient: Party, prohibitions: tuple[Prohibition, ...]) -> Node:
    builder = PlanBuilder()
    for rule in flow.field_rules():
        builder.share(rule, flow.id)
    for prohibition in prohibitions:
        if applies_to(prohibition, recipient):
            roles = frozenset(str(r) for r in prohibition.subject_roles)
            for path in prohibition.fields:
                builder.forbid(segments(path), prohibition.id, roles)
    if recipient.perpetrator_facing:
        for marked_path in marked(Mark.VICTIM_LOCATION):
            builder.forbid(marked_path, VICTIM_LOCATION_RULE, LOCATION_HELD_BACK_FOR)
    for text in free_text_without_a_condition(flow):
        builder.forbid(text, FREE_TEXT_RULE)
    return builder.build()


def free_text_without_a_condition(flow: Flow) -> list[Segments]:
    """Free text a flow would share whole though it names no special category
    condition: free text may hold health details, so it does not cross (lint warns)."""
    if flow.special_category_condition is not None or not flow.lawful_basis:
        return []
    return sorted(
        {
            text
            for rule in flow.field_rules()
            if rule.transform not in FREE_TEXT_SAFELY
            for text in marked(Mark.FREE_TEXT)
            if covers(segments(rule.path), text)
        }
    )


def compile_flows(
    parties: dict[str, Party],
    flows: tuple[Flow, ...],
    prohibitions: tuple[Prohibition, ...],
    categories: list[str],
) -> dict[tuple[str, str, str], tuple[CompiledFlow, ...]]:
    """(sender, recipient, category) -> its flows, explicit denies first.

    Takes the declarations the bundle is made of, not the bundle, so a bundle
    is built whole with its index (and this module needs nothing from it)."""
    denies: dict[tuple[str, str, str], list[CompiledFlow]] = defaultdict(list)
    permits: dict[tuple[str, str, str], list[CompiledFlow]] = defaultdict(list)
    for flow in flows:
        senders = list(parties) if ANY in flow.senders else flow.senders
        recipients = list(parties) if ANY in flow.recipients else flow.recipients
        cats = categories if ANY in flow.categories else [str(c) for c in flow.categories]
        consent = CompiledConsent(flow.consent) if flow.consent else None
        for recipient in recipients:
            conditions = tuple(compile_condition(c, parties[recipient]) for c in flow.when)
            plan = None
            if flow.effect == "permit":
                plan = build_plan(flow, parties[recipient], prohibitions)
            compiled = CompiledFlow(
                flow=flow,
                recipient=recipient,
                purposes=frozenset(flow.purposes),
                conditions=conditions,
                consent=consent,
                plan=plan,
                allowed_fields=tuple(r.path for r in flow.field_rules()),
                obligations=flow.obligations.as_terms(),
                owned=_owned_by(flow, parties[recipient]),
            )
            for sender in senders:
                if sender == recipient:
                    continue
                table = denies if compiled.is_deny else permits
                for category in cats:
                    table[(sender, recipient, category)].append(compiled)
    keys = set(denies) | set(permits)
    return {k: tuple(denies.get(k, ())) + tuple(permits.get(k, ())) for k in keys}


def compile_safety_net(
    parties: dict[str, Party], net: SafetyNet | None, prohibitions: tuple[Prohibition, ...]
) -> CompiledFlow | None:
    """The safety net as a permit to its one recipient, minimised like any flow.

    It is not in the index: the engine turns to it only when an immediate record
    would otherwise reach nobody."""
    if net is None:
        return None
    flow = net.as_flow()
    recipient = parties[net.to]
    return CompiledFlow(
        flow=flow,
        recipient=recipient.id,
        purposes=frozenset(flow.purposes),
        conditions=(),
        consent=None,
        plan=build_plan(flow, recipient, prohibitions),
        allowed_fields=tuple(r.path for r in flow.field_rules()),
        obligations=flow.obligations.as_terms(),
    )
