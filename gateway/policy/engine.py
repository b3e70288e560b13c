"""Deciding an exchange: one decision per candidate recipient, deny by default.

For each recipient, in order: a restricted or excluded case goes only to a
party that honours access marks; then, for each purpose the record declares
(in its order) until one permits: an explicit deny flow that applies wins;
otherwise the first permit flow (in file order) whose purpose, dates,
conditions and consent hold decides. When no purpose permits, the refusal is
an explicit deny if one applied, else "unrouted" when a flow would have routed
the record by a place the record does not give (a suspect of no fixed abode),
else the default deny.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any

from contracts import Exchange, Urgency
from gateway.policy.bundle import PolicyBundle
from gateway.policy.compile import NOT_REQUIRED, CompiledFlow, OwnedBy
from gateway.policy.model import SAFETY_NET
from gateway.policy.plan import Node

DEFAULT_DENY = "default-deny"
RESTRICTED_ACCESS_RULE = "mark:restricted-access"
#: The rule of a refusal only because the record gives no place to route it by.
UNROUTED = "unrouted"


@dataclass(frozen=True)
class Decision:
    """The outcome for one recipient. A deny is a decision, not an error."""

    recipient: str
    effect: str  # "permit" | "deny"
    rules: tuple[str, ...]
    reason: str
    purpose: str
    policy_version: str  # the bundle's hash: exactly which files decided
    lawful_basis: str | None = None
    allowed_fields: tuple[str, ...] = ()
    obligations: tuple[str, ...] = field(default=())
    special_category_condition: str | None = None
    consent: str | None = None  # given | not given | not required; None when not a permit
    justification: str | None = None  # the accepted reason for sharing without consent
    conditions: tuple[str, ...] = ()  # the conditions that held, in words
    #: The agreement's declared version, beside the bundle's hash.
    agreement_version: str = ""
    plan: Node | None = field(default=None, repr=False, compare=False)
    #: For a flow that delivers each item to its owner: the recipient's items only.
    owned: OwnedBy | None = field(default=None, repr=False, compare=False)

    @property
    def unrouted(self) -> bool:
        """Refused only because the record gives nothing to route it by: someone
        must route it by hand (the 202 says so)."""
        return self.rules[:1] == (UNROUTED,)

    @property
    def permitted(self) -> bool:
        return self.effect == "permit"

    def as_record(self) -> dict[str, Any]:
        """JSON form stored with the exchange and written into the audit entry.

        Built once per decision (the store, the audit and every message ask for
        it, and a refusal serves many exchanges); each call gets its own copy,
        lists included, to change as it likes."""
        return {
            **self._record,
            "rules": list(self.rules),
            "conditions": list(self.conditions),
            "obligations": list(self.obligations),
        }

    @cached_property
    def _record(self) -> dict[str, Any]:
        return {
            "recipient": self.recipient,
            "effect": self.effect,
            "rules": list(self.rules),
            "reason": self.reason,
            "purpose": self.purpose,
            "lawful_basis": self.lawful_basis,
            "special_category_condition": self.special_category_condition,
            "consent": self.consent,
            "justification": self.justification,
            "conditions": list(self.conditions),
            "obligations": list(self.obligations),
            "policy_version": self.policy_version,
            "agreement_version": self.agreement_version,
        }


def _deny(
    exchange: Exchange,
    bundle: PolicyBundle,
    recipient: str,
    rules: tuple[str, ...],
    reason: str,
    purpose: str | None = None,
) -> Decision:
    return _deny_decision(
        recipient,
        rules,
        reason,
        purpose or exchange.purpose or "",
        bundle.version,
        bundle.agreement_version,
    )


@functools.lru_cache(maxsize=4096)
def _deny_decision(
    recipient: str,
    rules: tuple[str, ...],
    reason: str,
    purpose: str,
    policy_version: str,
    agreement_version: str,
) -> Decision:
    """Refusals repeat: most parties are refused most records, for the same reason.
    A Decision is immutable, so one object (and its record, built once) serves
    every exchange it fits; the policy version is part of the key."""
    return Decision(
        recipient=recipient,
        effect="deny",
        rules=rules,
        reason=reason,
        purpose=purpose,
        policy_version=policy_version,
        agreement_version=agreement_version,
    )


def _restricted(exchange: Exchange) -> bool:
    return any(s.access is not None for s in exchange.subjects)


@dataclass
class _Refusals:
    """Why each purpose was refused, to give the strongest reason once all are tried."""

    explicit: Decision | None = None
    unrouted: tuple[str, str] | None = None  # (flow id, the condition with no value)
    #: The record gives a place some routing flow routes by: whatever refused it,
    #: it was not the want of a place.
    routed_elsewhere: bool = False
    nearest: list[str] = field(default_factory=list)


def _note_routing(compiled: CompiledFlow, exchange: Exchange, refusals: _Refusals) -> None:
    """A flow that failed only on where the record is routed: elsewhere, or nowhere."""
    unroutable = compiled.unroutable(exchange)
    if unroutable is None:
        refusals.routed_elsewhere = True
    elif refusals.unrouted is None:
        refusals.unrouted = (compiled.id, unroutable.text)


def decide_for(
    bundle: PolicyBundle, exchange: Exchange, recipient: str, today: date, restricted: bool
) -> Decision:
    if restricted and not bundle.parties[recipient].honours_access_marks:
        return _deny(
            exchange,
            bundle,
            recipient,
            (RESTRICTED_ACCESS_RULE,),
            "the case is marked restricted or excluded and this recipient cannot "
            "limit it to named staff",
        )
    flows: tuple[CompiledFlow, ...] = bundle.index.get(
        (exchange.source_partner, recipient, exchange.category), ()
    )
    refusals = _Refusals()
    for purpose in exchange.purposes or [exchange.purpose or ""]:
        permit = _decide_for_purpose(bundle, exchange, recipient, today, flows, purpose, refusals)
        if permit is not None:
            return permit
    if refusals.explicit is not None:
        return refusals.explicit
    if refusals.unrouted is not None and not refusals.routed_elsewhere:
        flow_id, condition = refusals.unrouted
        return _deny(
            exchange,
            bundle,
            recipient,
            (UNROUTED, flow_id),
            f"flow {flow_id} routes by {condition}, but the record gives no such place "
            "(no fixed abode?): flagged unrouted, to be routed by hand",
        )
    reason = "no flow in the agreement permits this sender, recipient, category and purpose"
    if refusals.nearest:
        reason = f"{reason}; {refusals.nearest[0]}"
    return _deny(exchange, bundle, recipient, (DEFAULT_DENY,), reason)


def _decide_for_purpose(
    bundle: PolicyBundle,
    exchange: Exchange,
    recipient: str,
    today: date,
    flows: tuple[CompiledFlow, ...],
    purpose: str,
    refusals: _Refusals,
) -> Decision | None:
    """The permit for one declared purpose, or None (noting why in ``refusals``)."""
    for compiled in flows:
        if not compiled.is_deny and compiled.has_place_to_route(exchange):
            refusals.routed_elsewhere = True  # the record says where: not unrouted
        miss = compiled.miss(exchange, today, purpose)
        if miss is not None:
            if not compiled.is_deny:
                if compiled.only_routing_fails(exchange, today, purpose):
                    _note_routing(compiled, exchange, refusals)
                refusals.nearest.append(f"flow {compiled.id}: {miss}")
            continue
        if compiled.is_deny:
            refusals.explicit = refusals.explicit or _deny(
                exchange,
                bundle,
                recipient,
                (compiled.id,),
                compiled.flow.description or f"denied by flow {compiled.id}",
                purpose,
            )
            return None
        outcome = compiled.consent(exchange) if compiled.consent else None
        if outcome is not None and not outcome.ok:
            refusals.nearest.insert(0, f"flow {compiled.id}: {outcome.reason}")
            continue
        flow = compiled.flow
        return Decision(
            recipient=recipient,
            effect="permit",
            rules=(compiled.id,),
            reason=flow.description or f"permitted by flow {compiled.id}",
            purpose=purpose,
            policy_version=bundle.version,
            agreement_version=bundle.agreement_version,
            lawful_basis=flow.lawful_basis,
            allowed_fields=compiled.allowed_fields,
            obligations=compiled.obligations,
            special_category_condition=flow.special_category_condition,
            consent=outcome.consent if outcome else NOT_REQUIRED,
            justification=outcome.justification if outcome else None,
            conditions=tuple(c.text for c in compiled.conditions),
            plan=compiled.plan,
            owned=compiled.owned,
        )
    return None


def decide(bundle: PolicyBundle, exchange: Exchange, today: date | None = None) -> list[Decision]:
    today = today or exchange.submitted_at.date()
    restricted = _restricted(exchange)
    decisions = [
        decide_for(bundle, exchange, recipient, today, restricted)
        for recipient in bundle.candidates(exchange.source_partner)
    ]
    return _with_safety_net(bundle, exchange, decisions)


def _with_safety_net(
    bundle: PolicyBundle, exchange: Exchange, decisions: list[Decision]
) -> list[Decision]:
    """An immediate record nobody may receive goes to the agreement's 24/7 duty
    function under vital interests, where the agreement names one: never silence."""
    net = bundle.safety_net
    if (
        net is None
        or exchange.urgency is not Urgency.IMMEDIATE
        or any(d.permitted for d in decisions)
        or net.recipient == exchange.source_partner
    ):
        return decisions
    flow = net.flow
    fallback = Decision(
        recipient=net.recipient,
        effect="permit",
        rules=(SAFETY_NET,),
        reason=flow.description,
        purpose=flow.purposes[0],
        policy_version=bundle.version,
        agreement_version=bundle.agreement_version,
        lawful_basis=flow.lawful_basis,
        allowed_fields=net.allowed_fields,
        obligations=net.obligations,
        special_category_condition=flow.special_category_condition,
        consent=NOT_REQUIRED,
        plan=net.plan,
    )
    return [fallback if d.recipient == net.recipient else d for d in decisions]
