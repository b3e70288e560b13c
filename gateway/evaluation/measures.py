"""The measures the evaluations used, per person and for the cohort.

For each person the *index date* is the completion of the intervention for
one who completed it, and the cohort's referral for everyone else (an
intervention left early has no end date in the records, only the date its
record was sent). *Reoffending* is a later
crime record naming them as suspect, perpetrator or offender (a breach of an
order recorded as a crime counts). A person counts towards a window only when
the whole window has passed by the export's ``as_of`` date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from statistics import median

from gateway.evaluation.facts import Facts, Intervention
from gateway.evaluation.months import add_months

COMPLETED = "completed"
NOT_COMPLETED = "not completed"
NO_INTERVENTION = "no intervention recorded"
ALL = "all"
GROUPS = (COMPLETED, NOT_COMPLETED, NO_INTERVENTION)
#: Average days in a month, to give time to first reoffence in months.
DAYS_PER_MONTH = 30.4375
WINDOWS = (6, 12)


@dataclass(frozen=True)
class Outcome:
    """One person's outcome: what the measures count."""

    group: str
    entered_on: date
    index_date: date
    intervention: Intervention | None
    followed: dict[int, bool]  # months -> the window has passed
    reoffended: dict[int, bool]  # months -> a reoffence within it
    days_to_first: int | None  # after the index date, if any reoffence at all
    charges: int  # in the follow-up window
    cautions: int

    @property
    def months_to_first(self) -> int | None:
        return None if self.days_to_first is None else int(self.days_to_first // DAYS_PER_MONTH)


def last_intervention(facts: Facts) -> Intervention | None:
    """The intervention's final word: a completion if any record says so, else the latest."""
    done = [i for i in facts.interventions if i.completed]
    if done:
        return max(done, key=lambda i: i.on)
    return max(facts.interventions, key=lambda i: i.on) if facts.interventions else None


def outcome(facts: Facts, entered_on: date, as_of: date, follow_up_months: int) -> Outcome:
    ended = last_intervention(facts)
    if ended is None:
        group, index = NO_INTERVENTION, entered_on
    elif ended.completed:
        group, index = COMPLETED, ended.completed_on or ended.on
    else:
        group, index = NOT_COMPLETED, entered_on
    later = sorted(e.on for e in facts.police if e.event in ("offence", "breach") and e.on > index)
    windows = sorted({*WINDOWS, follow_up_months})
    end = add_months(index, follow_up_months)
    disposals = [e for e in facts.police if index < e.on <= end]
    return Outcome(
        group=group,
        entered_on=entered_on,
        index_date=index,
        intervention=ended,
        followed={m: add_months(index, m) <= as_of for m in windows},
        reoffended={m: bool(later) and later[0] <= add_months(index, m) for m in windows},
        days_to_first=(later[0] - index).days if later else None,
        charges=sum(e.event == "charge" for e in disposals),
        cautions=sum(e.event == "caution" for e in disposals),
    )


@dataclass(frozen=True)
class Row:
    """One group's counts (before suppression) and the figures derived from them."""

    group: str
    counts: dict[str, int]
    median_months_to_first: float | None


def count_columns(follow_up_months: int) -> list[tuple[str, str | None]]:
    """(count column, its denominator column) in the order of the measures file: an
    outcome's denominator, whose complement (those without it) is as telling."""
    columns: list[tuple[str, str | None]] = [("people", None)]
    for months in sorted({*WINDOWS, follow_up_months}):
        columns += [
            (f"followed_{months}m", None),
            (f"reoffended_{months}m", f"followed_{months}m"),
        ]
    columns += [
        (f"charges_{follow_up_months}m", None),
        (f"cautions_{follow_up_months}m", None),
        ("reoffenders", None),
    ]
    return columns


def aggregate(outcomes: list[Outcome], follow_up_months: int) -> list[Row]:
    """One row per group, then the whole cohort."""
    rows = []
    for group in (*GROUPS, ALL):
        chosen = [o for o in outcomes if group in (ALL, o.group)]
        counts = {"people": len(chosen)}
        for months in sorted({*WINDOWS, follow_up_months}):
            followed = [o for o in chosen if o.followed[months]]
            counts[f"followed_{months}m"] = len(followed)
            counts[f"reoffended_{months}m"] = sum(o.reoffended[months] for o in followed)
        finished = [o for o in chosen if o.followed[follow_up_months]]
        counts[f"charges_{follow_up_months}m"] = sum(o.charges for o in finished)
        counts[f"cautions_{follow_up_months}m"] = sum(o.cautions for o in finished)
        firsts = [o.days_to_first for o in chosen if o.days_to_first is not None]
        counts["reoffenders"] = len(firsts)
        rows.append(
            Row(
                group,
                counts,
                round(median(firsts) / DAYS_PER_MONTH, 1) if firsts else None,
            )
        )
    return rows
