"""The daily screening batch (format ``police-screening/1``), in CSV or JSON.

The EASI team's daily crime search returns hundreds of rows over the stalking
and harassment offence types. Each row is one crime: it becomes its own
canonical exchange, and a bad row is reported (by its index, counted from 0
among the data rows) without rejecting the good ones. Each row is turned into
a ``police-crime/1`` record so the one field mapping in ``mapping.py`` serves
both shapes.
"""

from __future__ import annotations

import csv
import io
import itertools
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from adapters.base import (
    MAX_BATCH_ROWS,
    DeclaredPurposes,
    NativePurposeId,
    batch_too_large,
    check_batch_size,
    validate_native,
)
from contracts import OffenceClass
from gateway.errors import FieldProblem, InvalidRecord, MalformedBody


def _split_cell(value: Any) -> Any:
    """A CSV cell listing several purposes separates them with ``;`` (a JSON row gives a list)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(";") if part.strip()]
    return value


class ScreeningRow(DeclaredPurposes):
    """One row of the daily crime search; the same columns in CSV and JSON.

    ``purpose`` / ``purposes`` (a CSV cell: ``a;b``) replace the batch's purposes for
    this row; a row and batch that name none leave them to the sender's registration.
    """

    occurrence_number: str = Field(min_length=1)
    reported: datetime | None = None
    ho_code: str = Field(min_length=1)
    act: str | None = None
    section: str | None = None
    offence_title: str | None = None
    classification: OffenceClass | None = None
    status: str | None = None
    officer_in_case: str | None = None
    case_reference: str | None = None
    suspect_pnc_id: str | None = None
    suspect_forename: str | None = None
    suspect_surname: str | None = None
    suspect_dob: date | None = None
    suspect_district: str | None = None
    suspect_no_fixed_abode: bool | None = Field(
        default=None, description="NFA: the suspect has no fixed abode."
    )
    suspect_probation_pdu: str | None = Field(
        default=None, description="The PDU managing the suspect, where the force knows it."
    )
    victim_forename: str | None = None
    victim_surname: str | None = None
    victim_district: str | None = None
    risk_tool: Literal["DASH", "SASH", "SAI"] | None = None
    risk_level: Literal["standard", "low", "medium", "high", "very_high"] | None = None
    purposes: Annotated[list[NativePurposeId], BeforeValidator(_split_cell)] = Field(
        default_factory=list, description="Purposes for this row; in CSV, separated by ';'."
    )


class ScreeningBatch(DeclaredPurposes):
    """The JSON batch's envelope: its purposes apply to every row that names none."""

    format: Literal["police-screening/1"]
    search_date: date
    rows: list[Any]


COLUMNS = tuple(ScreeningRow.model_fields)
REQUIRED_COLUMNS = ("occurrence_number", "ho_code")


def read_csv(body: bytes) -> list[dict[str, Any]]:
    """CSV rows as dicts, blank cells as absent; header faults reject the whole body,
    and so do more than ``MAX_BATCH_ROWS`` rows (read no further than one past it)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalformedBody(f"body is not UTF-8: {exc.reason} at byte {exc.start}") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    unknown = [c for c in header if c not in COLUMNS]
    if missing or unknown:
        problems = [FieldProblem(c, "required column is missing") for c in missing]
        problems += [FieldProblem(c, "unknown column") for c in unknown]
        raise MalformedBody("the screening CSV header is not valid", problems)
    try:
        # One row past the limit is enough to refuse: never hold a hostile batch's rows.
        rows = list(itertools.islice(reader, MAX_BATCH_ROWS + 1))
    except csv.Error as exc:
        raise MalformedBody(f"body is not valid CSV: {exc} at line {reader.line_num}") from None
    if len(rows) > MAX_BATCH_ROWS:
        raise batch_too_large(MAX_BATCH_ROWS, f"more than {MAX_BATCH_ROWS}")
    return [{k: v for k, v in row.items() if v not in ("", None) or k is None} for row in rows]


def row_problem(row: dict[str, Any], index: int) -> InvalidRecord | None:
    """A structural fault CSV lets through (a ragged row) as this row's error."""
    if None in row:
        return InvalidRecord(
            f"screening row {index} has more cells than the header",
            [FieldProblem("(row)", "more cells than columns", index)],
        )
    return None


def to_crime_record(row: ScreeningRow, purposes: list[str], index: int) -> dict[str, Any]:
    """The ``police-crime/1`` record a screening row stands for; ``purposes`` are the
    batch's, used when the row names none."""
    if not row.suspect_pnc_id and not (row.suspect_surname and row.suspect_dob):
        raise InvalidRecord(
            f"screening row {index} does not identify the suspect",
            [
                FieldProblem(
                    "suspect_pnc_id",
                    "a suspect needs a PNC ID, or a surname and a date of birth",
                    index,
                )
            ],
        )
    persons: list[dict[str, Any]] = [
        {
            "ref": "S1",
            "role": "suspect",
            "pnc_id": row.suspect_pnc_id,
            "forename": row.suspect_forename,
            "surname": row.suspect_surname,
            "dob": row.suspect_dob,
            "address": {"district": row.suspect_district} if row.suspect_district else None,
            "no_fixed_abode": row.suspect_no_fixed_abode,
            "probation_pdu": row.suspect_probation_pdu,
        }
    ]
    if row.victim_forename or row.victim_surname or row.victim_district:
        persons.append(
            {
                "ref": "V1",
                "role": "victim",
                "forename": row.victim_forename,
                "surname": row.victim_surname,
                "address": {"district": row.victim_district} if row.victim_district else None,
            }
        )
    risk = None
    if row.risk_tool and row.risk_level:
        risk = {"tool": row.risk_tool, "level": row.risk_level}
    return {
        "format": "police-crime/1",
        "purposes": row.declared() or purposes,
        "case_reference": row.case_reference,
        "occurrence": {
            "number": row.occurrence_number,
            "reported": row.reported,
            "status": row.status,
            "officer_in_case": row.officer_in_case,
            "offence": {
                "ho_code": row.ho_code,
                "act": row.act,
                "section": row.section,
                "title": row.offence_title,
                "classification": row.classification,
            },
        },
        "persons": persons,
        "risk": risk,
    }


def batch_rows(data: Any) -> tuple[list[Any], list[str]]:
    """The rows and purposes of a JSON screening batch; the envelope must be valid."""
    rows = data.get("rows") if isinstance(data, dict) else None
    if isinstance(rows, list):
        check_batch_size(len(rows))
    batch = validate_native(ScreeningBatch, data, "screening batch envelope", skip=["rows"])
    return batch.rows, batch.declared()


def parse_row(raw: Any, index: int) -> ScreeningRow:
    return validate_native(ScreeningRow, raw, f"screening row {index}", record=index)
