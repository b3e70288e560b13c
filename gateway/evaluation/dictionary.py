"""The export's tables and columns: one definition that builds the files' schemas and
their data dictionary (``data_dictionary.csv`` and ``.md``)."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa  # type: ignore[import-untyped]

#: Said of every person column.
PERSON = (
    "The person's pseudonym for this recipient: the data custodian's keyed pseudonym "
    "(HMAC), the same in every table and for every agency's records about them"
)
MONTH = "month, YYYY-MM (dates are coarsened to the month)"


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    description: str
    values: str = ""


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    #: An aggregate: small numbers suppressed (empty cells), see suppression.csv.
    aggregate: bool = False

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.type) for c in self.columns])


def _c(name: str, kind: pa.DataType, description: str, values: str = "") -> Column:
    return Column(name, kind, description, values)


S, INT, B, F = pa.string(), pa.int64(), pa.bool_(), pa.float64()
RISK = "standard, low, medium, high, very_high"


def tables(follow_up: int) -> tuple[Table, ...]:
    """Every table of an export following people for ``follow_up`` months."""
    windows = sorted({6, 12, follow_up})
    person = _c("person", S, PERSON)
    measures: list[Column] = [
        _c(
            "group",
            S,
            "Who the row counts",
            "completed, not completed, no intervention recorded, all",
        ),
        _c("people", INT, "People in the group"),
    ]
    for m in windows:
        measures += [
            _c(f"followed_{m}m", INT, f"People whose {m} months after the index date have passed"),
            _c(f"reoffended_{m}m", INT, f"Of those, people with a new offence within {m} months"),
            _c(f"rate_{m}m", F, f"reoffended_{m}m / followed_{m}m", "0 to 1"),
        ]
    measures += [
        _c(
            f"charges_{follow_up}m",
            INT,
            f"Charges within {follow_up} months of the index date (people followed that long)",
        ),
        _c(f"cautions_{follow_up}m", INT, "Conditional and simple cautions, likewise"),
        _c("reoffenders", INT, "People with any new offence after the index date"),
        _c(
            "median_months_to_first_reoffence",
            F,
            "Median time from the index date to the "
            "first new offence, in months (30.44 days), over the reoffenders",
        ),
    ]
    return (
        Table(
            "people",
            "One row per person in the cohort",
            (
                person,
                _c(
                    "age_band",
                    S,
                    "Age band at the first record the export read (policy transform age-band)",
                    "under 18, 18-24, 25-34, 35-44, 45-54, 55+",
                ),
                _c(
                    "agencies",
                    S,
                    "Kinds of agency whose records about the person were read",
                    "e.g. health;police;probation",
                ),
                _c("entered_month", S, f"The cohort's referral, {MONTH}"),
                _c("intervention", S, "The intervention (its latest record)"),
                _c("group", S, "Completed, not completed, or no intervention recorded"),
                _c(
                    "index_month",
                    S,
                    "Index date: the intervention's completion, else the cohort's "
                    f"referral; {MONTH}",
                ),
                *[
                    _c(f"followed_{m}m", B, f"{m} months after the index date have passed")
                    for m in windows
                ],
                *[
                    _c(f"reoffended_{m}m", B, f"A new offence within {m} months of the index date")
                    for m in windows
                ],
                _c(
                    "months_to_first_reoffence",
                    INT,
                    "Whole months from the index date to the first new offence; empty if none",
                ),
                _c(f"charges_{follow_up}m", INT, f"Charges within {follow_up} months"),
                _c(f"cautions_{follow_up}m", INT, f"Cautions within {follow_up} months"),
            ),
        ),
        Table(
            "referrals",
            "Each referral of a person in the cohort",
            (
                person,
                _c("referral_month", S, MONTH),
                _c("referred_to", S, "Where to", "e.g. triage-clinic, marac, hru"),
                _c("referring_agency", S, "The referring agency"),
                _c("outcome", S, "The referral's outcome", "pending, accepted, declined"),
                _c("intervention", S, "The intervention chosen"),
                _c("high_risk", B, "DASH 14 or more, professional judgement or escalation"),
            ),
        ),
        Table(
            "interventions",
            "Each record of an intervention's progress",
            (
                person,
                _c("record_month", S, f"The completion or the record, {MONTH}"),
                _c("provider", S, "The party providing it"),
                _c("intervention", S, "Type, e.g. fACT"),
                _c(
                    "engagement",
                    S,
                    "Engagement",
                    "engaged, partially_engaged, disengaged, declined, not_yet_offered",
                ),
                _c("sessions_offered", INT, "Sessions offered"),
                _c("sessions_attended", INT, "Sessions attended"),
                _c("completed", B, "Completed"),
                _c("completion_month", S, MONTH),
            ),
        ),
        Table(
            "risk",
            "Risk levels over time",
            (
                person,
                _c("assessed_month", S, MONTH),
                _c("tool", S, "The tool", "SASH, DASH, SAI, RoSH, clinical"),
                _c("level", S, "The level", RISK),
                _c("agency", S, "The party that assessed it"),
            ),
        ),
        Table(
            "reviews",
            "Each quarter of the 12 months after the index date",
            (
                person,
                _c("quarter", INT, "Quarter after the index date", "1, 2, 3, 4"),
                _c("review_month", S, f"The quarter's end, {MONTH}"),
                _c("followed", B, "The quarter has passed"),
                _c("new_offences", INT, "New offences in the quarter"),
                _c("breaches", INT, "Breaches of orders recorded as crimes in the quarter"),
                _c("arrests", INT, "Arrests in the quarter"),
                _c("sash_level", S, "Latest SASH level by the quarter's end", RISK),
                _c("dash_level", S, "Latest DASH level by the quarter's end", RISK),
                _c("rosh_level", S, "Latest RoSH level by the quarter's end", RISK),
            ),
        ),
        Table(
            "police_records",
            "Police records about the person, before and after the index date",
            (
                person,
                _c("record_month", S, MONTH),
                _c(
                    "months_from_index", INT, "Whole months after (negative: before) the index date"
                ),
                _c(
                    "event",
                    S,
                    "What it is",
                    "offence, breach, arrest, charge, caution, disposal, order",
                ),
                _c("offence_class", S, "The offence class", "e.g. stalking_s2a, breach_spo"),
                _c("detail", S, "A disposal's kind or an order's kind and stage"),
            ),
        ),
        Table(
            "measures",
            "The evaluations' measures per group; small numbers suppressed "
            "(empty), see suppression.csv",
            tuple(measures),
            aggregate=True,
        ),
        Table(
            "suppression",
            "Every suppressed cell of measures, and why (never its value)",
            (
                _c("table", S, "The aggregate table"),
                _c("group", S, "Its row"),
                _c("column", S, "Its column"),
                _c(
                    "reason",
                    S,
                    "primary (1 to under the threshold, or its complement under it), secondary "
                    "(a total that would reveal a primary cell), or derived from a "
                    "suppressed count",
                ),
            ),
        ),
    )
