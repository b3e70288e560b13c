"""Stage 4, minimise: each permitted recipient's copy holds only its allowed fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.policy import Decision, Minimised, minimise_for


@dataclass(frozen=True)
class Disclosure:
    decision: Decision
    minimised: Minimised


def minimise(
    record: dict[str, Any], decisions: list[Decision], pseudonym_key: bytes
) -> list[Disclosure]:
    return [Disclosure(d, minimise_for(d, record, pseudonym_key)) for d in decisions if d.permitted]
