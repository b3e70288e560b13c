"""The probation SPOC notification JSON format (``probation-spoc/1``).

What a probation delivery unit's single point of contact sends and receives:
one notification per event on a case (allocation, licence conditions and their
compliance, RoSH change, MAPPA change, recall, change of address or of
supervising officer, restriction). Documented in ``docs/formats/probation.md``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field, field_validator

from adapters.base import NativeModel
from contracts import CRN_PATTERN, NOMS_PATTERN, ProbationEvent


class NativeAddress(NativeModel):
    lines: list[str] = Field(default_factory=list)
    town: str | None = None
    postcode: str | None = None
    local_authority: str | None = None


class NativeRestriction(NativeModel):
    """nDelius access limitation: restricted (only listed staff) or excluded (listed barred)."""

    type: Literal["restricted", "excluded"]
    staff: list[str] = Field(default_factory=list)
    reason: str | None = None


class NativeOffender(NativeModel):
    crn: str
    noms_number: str | None = None
    pnc_id: str | None = None
    forename: str | None = None
    surname: str | None = None
    dob: date | None = None
    gender: str | None = None
    address: NativeAddress | None = None
    restriction: NativeRestriction | None = None

    @field_validator("crn")
    @classmethod
    def _crn(cls, value: str) -> str:
        if not CRN_PATTERN.match(value):
            raise ValueError("a CRN is a letter followed by six digits, e.g. X123456")
        return value

    @field_validator("noms_number")
    @classmethod
    def _noms(cls, value: str | None) -> str | None:
        if value is not None and not NOMS_PATTERN.match(value):
            raise ValueError("a NOMS number is a letter, four digits and two letters, e.g. A1234BC")
        return value


class NativeLicenceCondition(NativeModel):
    code: str | None = Field(default=None, description="nDelius condition code")
    description: str = Field(min_length=1)
    compliance: Literal["complying", "partial", "breached", "not_yet_due", "unknown"] = "unknown"
    last_reviewed: datetime | None = None
    notes: str | None = None


class NativeSentence(NativeModel):
    description: str | None = None
    licence_start: date | None = None
    licence_end: date | None = None


class NativeRosh(NativeModel):
    level: Literal["low", "medium", "high", "very_high"]
    assessed: datetime | None = None
    summary: str | None = None


class NativeMappa(NativeModel):
    category: int = Field(ge=1, le=4)
    level: int = Field(ge=1, le=3)
    previous_category: int | None = Field(default=None, ge=1, le=4)
    previous_level: int | None = Field(default=None, ge=1, le=3)
    effective: date | None = None


class NativeRecall(NativeModel):
    date: date
    type: Literal["fixed_term", "standard"] | None = None
    reason: str | None = None


class ProbationNotification(NativeModel):
    format: Literal["probation-spoc/1"]
    notification_id: str | None = None
    event: ProbationEvent
    purpose: str = Field(min_length=1)
    case_reference: str | None = None
    urgency: Literal["routine", "urgent", "immediate"] = "routine"
    pdu: str | None = Field(default=None, description="Probation delivery unit, e.g. 'North'")
    offender_manager: str | None = None
    previous_offender_manager: str | None = None
    offender: NativeOffender
    sentence: NativeSentence | None = None
    licence_conditions: list[NativeLicenceCondition] = Field(default_factory=list)
    rosh: NativeRosh | None = None
    mappa: NativeMappa | None = None
    recall: NativeRecall | None = None
    effective_date: date | None = None
    notes: str | None = None
