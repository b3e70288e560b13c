"""Deciding an exchange: one decision per candidate recipient, deny by default."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from contracts import Exchange
from gateway.policy.bundle import PolicyBundle

DEFAULT_DENY = "default-deny"


@dataclass(frozen=True)
class Decision:
    """The outcome for one recipient. A deny is a decision, not an error."""

    recipient: str
    effect: str  # "permit" | "deny"
    rules: tuple[str, ...]
    reason: str
    purpose: str
    policy_version: str
    lawful_basis: str | None = None
    allowed_fields: tuple[str, ...] = ()
    obligations: tuple[str, ...] = field(default=())

    @property
    def permitted(self) -> bool:
        return self.effect == "permit"

    def as_record(self) -> dict[str, Any]:
        """JSON form stored with the exchange and written into the audit entry."""
        return {
            "recipient": self.recipient,
            "effect": self.effect,
            "rules": list(self.rules),
            "reason": self.reason,
            "purpose": self.purpose,
            "lawful_basis": self.lawful_basis,
            "obligations": list(self.obligations),
            "policy_version": self.policy_version,
        }


def decide(bundle: PolicyBundle, exchange: Exchange, today: date | None = None) -> list[Decision]:
    today = today or exchange.submitted_at.date()
    decisions = []
    for recipient in bundle.candidates(exchange.source_partner):
        flows = bundle.index.get((exchange.source_partner, recipient, exchange.category), ())
        match = next(
            (
                f
                for f in flows
                if exchange.purpose in f.purposes
                and (f.valid_from is None or f.valid_from <= today)
                and (f.valid_until is None or today <= f.valid_until)
            ),
            None,
        )
        if match is None:
            decisions.append(
                Decision(
                    recipient=recipient,
                    effect="deny",
                    rules=(DEFAULT_DENY,),
                    reason="no flow in the agreement permits this sender, category and purpose",
                    purpose=exchange.purpose,
                    policy_version=bundle.version,
                )
            )
            continue
        decisions.append(
            Decision(
                recipient=recipient,
                effect="permit",
                rules=(match.id,),
                reason=match.description or f"permitted by flow {match.id}",
                purpose=exchange.purpose,
                policy_version=bundle.version,
                lawful_basis=match.lawful_basis,
                allowed_fields=tuple(match.fields),
            )
        )
    return decisions
