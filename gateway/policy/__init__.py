"""Policy-as-code: the information-sharing agreement, loaded, checked and applied.

The pipeline needs :func:`load_bundle` (or :class:`LivePolicy` for reloads),
:func:`decide` and :func:`minimise_for`; the governance tools (lint, policy
tests, explain, diff, matrix, replay, schema) live in ``gateway.policy.tools``
and their commands in ``gateway.cli.policy``. See ``docs/policy.md`` for the
language.
"""

from gateway.policy.bundle import PolicyBundle, load_bundle
from gateway.policy.engine import Decision, decide
from gateway.policy.live import LivePolicy
from gateway.policy.minimise import Minimised, minimise, minimise_for
from gateway.policy.transforms import PseudonymKeyMissing

__all__ = [
    "Decision",
    "LivePolicy",
    "Minimised",
    "PolicyBundle",
    "PseudonymKeyMissing",
    "decide",
    "load_bundle",
    "minimise",
    "minimise_for",
]
