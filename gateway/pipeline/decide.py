"""Stage 3, decide: one policy decision per candidate recipient."""

from __future__ import annotations

from contracts import Exchange
from gateway.policy import Decision, PolicyBundle
from gateway.policy import decide as policy_decide


def decide(exchange: Exchange, bundle: PolicyBundle) -> list[Decision]:
    return policy_decide(bundle, exchange)
