"""Small-number suppression of an aggregate table (statistical disclosure control).

*Primary*: a count from 1 to under the threshold is suppressed. A zero is
shown: an empty group, or nobody in it with the outcome, says nothing about
anyone. An outcome count is suppressed too when its complement within its
denominator is under the threshold, zero included: of 20 followed, 17
reoffended says that 3 did not, and 20 says every one of them did.
*Secondary*: each count column is additive (the groups sum to the total), so
a column with exactly one group cell suppressed would give it away by
subtraction: its total is suppressed too (the total rather than another group,
because the evaluations compare the groups). A figure derived from a
suppressed count (a rate, a median) is suppressed with it. Every suppressed
cell is listed with its reason; the value is never written.
"""

from __future__ import annotations

from dataclasses import dataclass

PRIMARY = "primary: under {t}"
COMPLEMENT = "primary: {den} minus it is under {t}"
SECONDARY = "secondary: the total would reveal {group} by subtraction"
DERIVED = "derived from suppressed {of}"


@dataclass(frozen=True)
class Suppressed:
    group: str
    column: str
    reason: str


def suppress(
    rows: dict[str, dict[str, int]],
    columns: list[tuple[str, str | None]],
    total: str,
    threshold: int,
) -> list[Suppressed]:
    """The cells of ``rows`` (group -> count column -> value) to suppress; ``columns``
    gives each count column and its denominator column (or None), ``total`` the
    group that is the sum of the others."""
    out: dict[tuple[str, str], str] = {}
    for group, counts in rows.items():
        for column, denominator in columns:
            value = counts[column]
            if 0 < value < threshold:
                out[(group, column)] = PRIMARY.format(t=threshold)
            elif denominator is not None and _telling_complement(
                counts[denominator], value, threshold
            ):
                out[(group, column)] = COMPLEMENT.format(den=denominator, t=threshold)
    parts = [g for g in rows if g != total]
    for column, _ in columns:
        hidden = [g for g in parts if (g, column) in out]
        if len(hidden) == 1 and (total, column) not in out:
            out[(total, column)] = SECONDARY.format(group=hidden[0])
    return [Suppressed(g, c, r) for (g, c), r in out.items()]


def _telling_complement(denominator: int, value: int, threshold: int) -> bool:
    """Those without the outcome are few (or none) of people who exist."""
    return denominator > 0 and denominator - value < threshold
