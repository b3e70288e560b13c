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

from contracts.marks import Mark
from gateway.policy.conditions import CompiledCondition, compile_condition, enum_value, values_at
from gateway.policy.fields import Segments, covers, marked, segments
from gateway.policy.model import ANY, Consent, Flow, Party, Prohibition, Transform
from gateway.policy.plan import Node, PlanBuilder

VICTIM_LOCATION_RULE = "mark:victim-location"
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
class CompiledFlow:
    flow: Flow
    recipient: str
    purposes: frozenset[str]
    conditions: tuple[CompiledCondition, ...]
    consent: CompiledConsent | None
    plan: Node | None = field(repr=False)
    allowed_fields: tuple[str, ...]
    obligations: tuple[str, ...]

    @property
    def id(self) -> str:
        return self.flow.id

    @property
    def is_deny(self) -> bool:
        return self.flow.effect == "deny"

    def checks(self, exchange: Any, today: date) -> list[tuple[str, bool]]:
        """Every test the flow makes, in order, and whether it held (for explain)."""
        flow = self.flow
        out = [
            (
                f"purpose {exchange.purpose} is one of {', '.join(sorted(self.purposes))}"
                if self.purposes
                else "applies to every purpose",
                not self.purposes or exchange.purpose in self.purposes,
            )
        ]
        if flow.valid_from:
            out.append((f"in force from {flow.valid_from}", flow.valid_from <= today))
        if flow.valid_until:
            out.append((f"in force until {flow.valid_until}", today <= flow.valid_until))
        out += [(c.text, c(exchange)) for c in self.conditions]
        return out

    def miss(self, exchange: Any, today: date) -> str | None:
        """Why the flow does not apply, or None when it does (consent aside)."""
        if self.purposes and exchange.purpose not in self.purposes:
            return f"purpose {exchange.purpose!r} is not one of its purposes"
        flow = self.flow
        if flow.valid_from and today < flow.valid_from:
            return f"not in force until {flow.valid_from}"
        if flow.valid_until and today > flow.valid_until:
            return f"expired on {flow.valid_until}"
        for condition in self.conditions:
            if not condition(exchange):
                return f"condition not met: {condition.text}"
        return None


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
            builder.forbid(marked_path, VICTIM_LOCATION_RULE, frozenset({"victim"}))
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
            )
            for sender in senders:
                if sender == recipient:
                    continue
                table = denies if compiled.is_deny else permits
                for category in cats:
                    table[(sender, recipient, category)].append(compiled)
    keys = set(denies) | set(permits)
    return {k: tuple(denies.get(k, ())) + tuple(permits.get(k, ())) for k in keys}
