"""Explain: for one exchange, which rules matched for each recipient and why, field by field.

The same compiled flows the engine uses are asked for every test they make,
so the explanation cannot drift from the decision.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from contracts import Exchange
from gateway.policy.bundle import PolicyBundle
from gateway.policy.engine import RESTRICTED_ACCESS_RULE, Decision, decide
from gateway.policy.fields import is_envelope
from gateway.policy.minimise import apply_plan

EXPLAIN_KEY = b"explain-only"


def explain(
    bundle: PolicyBundle,
    exchange: Exchange,
    recipients: list[str] | None = None,
    today: date | None = None,
) -> str:
    today = today or exchange.submitted_at.date()
    record = exchange.model_dump(mode="json")
    lines = [
        f"Exchange {exchange.exchange_id}: {exchange.category} from {exchange.source_partner} "
        f"for {', '.join(exchange.purposes)}",
        f"Policy {bundle.agreement_id} {bundle.agreement_version} ({bundle.version})",
    ]
    for decision in decide(bundle, exchange, today):
        if recipients and decision.recipient not in recipients:
            continue
        lines.append("")
        verdict = "PERMIT" if decision.permitted else "DENY"
        under = f" for {decision.purpose}" if decision.permitted else ""
        lines.append(f"{decision.recipient}: {verdict} by {', '.join(decision.rules)}{under}")
        lines.append(f"  why: {decision.reason}")
        if decision.rules == (RESTRICTED_ACCESS_RULE,):
            continue
        lines += _flows(bundle, exchange, decision.recipient, today)
        if decision.permitted:
            lines.append(
                f"  lawful basis: {decision.lawful_basis}"
                + (
                    f"; Art 9 condition: {decision.special_category_condition}"
                    if decision.special_category_condition
                    else ""
                )
            )
            consent = f"  consent: {decision.consent}"
            if decision.justification:
                consent += f" (shared without consent: {decision.justification})"
            lines.append(consent)
            if decision.obligations:
                lines.append(f"  obligations: {'; '.join(decision.obligations)}")
            lines += _fields(decision, record)
    return "\n".join(lines)


def _flows(bundle: PolicyBundle, exchange: Exchange, recipient: str, today: date) -> list[str]:
    flows = bundle.index.get((exchange.source_partner, recipient, exchange.category), ())
    if not flows:
        return [
            f"  no flow covers {exchange.category} from {exchange.source_partner} to {recipient}"
        ]
    out = []
    for compiled in flows:
        where = bundle.locations.get(f"flows:{compiled.id}", "")
        out.append(f"  {compiled.flow.effect} flow {compiled.id} ({where}):")
        for text, held in compiled.checks(exchange, today):
            out.append(f"    [{'x' if held else ' '}] {text}")
        purpose = compiled.purpose_for(exchange)
        if (
            compiled.consent is not None
            and purpose is not None
            and compiled.miss(exchange, today, purpose) is None
        ):
            outcome = compiled.consent(exchange)
            detail = outcome.justification or outcome.reason or outcome.consent
            out.append(f"    [{'x' if outcome.ok else ' '}] consent: {detail}")
    return out


def _fields(decision: Decision, record: dict[str, Any]) -> list[str]:
    assert decision.plan is not None  # a permitted decision carries its plan
    trace: dict[str, set[str]] = {}
    apply_plan(decision.plan, record, decision.recipient, EXPLAIN_KEY, trace=trace)
    out = ["  fields:"]
    for path in sorted(trace):
        if is_envelope(path):
            continue
        out.append(f"    {path}: {'; '.join(sorted(trace[path]))}")
    return out
