"""The probation SPOC notification JSON format (``probation-spoc/1``).

What a probation delivery unit's single point of contact sends and receives:
one notification per event on a case (allocation, licence conditions and their
compliance, RoSH change, MAPPA change, recall, change of address or of
supervising officer, restriction). Documented in ``docs/formats/probation.md``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field, model_validator

from adapters.alerts import NativeAlert
from adapters.base import DeclaredPurposes, NativeCrn, NativeModel, NativeNomsNumber
from contracts import ProbationEvent

#: Roles of the other people a notification may name: a victim (the victim contact
#: scheme's, or one a licence condition protects), a child, a witness, anyone else.
#: The case's own person is always ``offender``.
PersonRole = Literal["victim", "child", "witness", "other"]


class NativeAddress(NativeModel):
    lines: list[str] = Field(default_factory=list)
    town: str | None = None
    postcode: str | None = None
    local_authority: str | None = None
    no_fixed_abode: bool | None = Field(
        default=None, description="nDelius NFA: no fixed abode (give no lines or postcode)."
    )

    @model_validator(mode="after")
    def _nfa_has_no_home(self) -> NativeAddress:
        if self.no_fixed_abode and (self.lines or self.postcode):
            raise ValueError("an address of no fixed abode has no lines or postcode")
        return self


class NativeRestriction(NativeModel):
    """nDelius access limitation: restricted (only listed staff) or excluded (listed barred)."""

    type: Literal["restricted", "excluded"]
    staff: list[str] = Field(default_factory=list)
    reason: str | None = None


class NativeOffender(NativeModel):
    crn: NativeCrn
    noms_number: NativeNomsNumber | None = None
    pnc_id: str | None = None
    forename: str | None = None
    surname: str | None = None
    dob: date | None = None
    gender: str | None = None
    address: NativeAddress | None = None
    restriction: NativeRestriction | None = None


class NativePerson(NativeModel):
    """Someone else the notification names, e.g. the victim a non-contact condition protects."""

    ref: str = Field(min_length=1, max_length=32)
    role: PersonRole
    forename: str | None = None
    surname: str | None = None
    dob: date | None = None
    gender: str | None = None
    address: NativeAddress | None = None
    safe_contact: str | None = Field(default=None, description="How to reach a victim safely")


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


class ProbationNotification(DeclaredPurposes):
    """One notification; with no ``purpose``/``purposes`` the PDU's registration decides."""

    format: Literal["probation-spoc/1"]
    notification_id: str | None = None
    event: ProbationEvent
    case_reference: str | None = None
    urgency: Literal["routine", "urgent", "immediate"] | None = Field(
        default=None, description="Absent: ``immediate`` with an ``alert`` block, else ``routine``."
    )
    pdu: str | None = Field(default=None, description="Probation delivery unit, e.g. 'North'")
    offender_manager: str | None = None
    previous_offender_manager: str | None = None
    offender: NativeOffender
    persons: list[NativePerson] = Field(
        default_factory=list, description="Other people named: victims, children, witnesses."
    )
    sentence: NativeSentence | None = None
    licence_conditions: list[NativeLicenceCondition] = Field(default_factory=list)
    rosh: NativeRosh | None = None
    mappa: NativeMappa | None = None
    recall: NativeRecall | None = None
    effective_date: date | None = None
    notes: str | None = None
    alert: NativeAlert | None = Field(
        default=None,
        description="Makes the notification an urgent alert (a recall, a breach of licence, "
        "heightened risk seen at supervision); the event says what happened on the case.",
    )

    @model_validator(mode="after")
    def _refs_unique(self) -> ProbationNotification:
        """Each person has their own ref, never the offender's (``O1``)."""
        refs = [p.ref for p in self.persons]
        if "O1" in refs or len(set(refs)) != len(refs):
            raise ValueError("each person needs a ref of their own, other than the offender's O1")
        return self
