"""Policy-as-code: the information-sharing agreement, loaded and applied."""

from gateway.policy.bundle import PolicyBundle, load_bundle
from gateway.policy.engine import Decision, decide
from gateway.policy.minimise import Minimised, minimise, minimise_for

__all__ = [
    "Decision",
    "Minimised",
    "PolicyBundle",
    "decide",
    "load_bundle",
    "minimise",
    "minimise_for",
]
