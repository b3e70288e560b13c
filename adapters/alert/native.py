"""The generic alert JSON format (``alert/1``), for partners with no records format of
their own here: intervention services (HMPPS psychology, Forensic Psychology
Consultants), a crisis team's duty desk, a charity. One alert about one person,
named by whatever the sender holds. Documented in ``docs/formats/alert.md``.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field, model_validator

from adapters.alerts import NativeAlert
from adapters.base import (
    DeclaredPurposes,
    NativeCrn,
    NativeModel,
    NativeNhsNumber,
    NativeNomsNumber,
)
from contracts import SubjectRole

#: The ref of the person the alert is about; the others need refs of their own.
PERSON_REF = "P1"


class NativeAddress(NativeModel):
    lines: list[str] = Field(default_factory=list)
    town: str | None = None
    postcode: str | None = None
    local_authority: str | None = Field(default=None, description="e.g. 'Sandwell'")


class NativePerson(NativeModel):
    """The person the alert is about: any identifier the sender holds, or name and dob."""

    role: SubjectRole = Field(description="perpetrator, victim, patient, offender ...")
    nhs_number: NativeNhsNumber | None = None
    pnc_id: str | None = None
    crn: NativeCrn | None = None
    noms_number: NativeNomsNumber | None = None
    local_id: str | None = Field(default=None, description="The sender's own case number")
    forename: str | None = None
    surname: str | None = None
    dob: date | None = None
    gender: str | None = None
    address: NativeAddress | None = None


class NativeOther(NativeModel):
    """Someone else the alert names, e.g. the victim he spoke of reaching tonight."""

    ref: str = Field(min_length=1, max_length=32)
    role: SubjectRole
    forename: str | None = None
    surname: str | None = None
    dob: date | None = None
    address: NativeAddress | None = None
    safe_contact: str | None = None


class AlertRecord(DeclaredPurposes):
    """One alert; with no ``purpose``/``purposes`` the sender's registration decides."""

    format: Literal["alert/1"] = Field(description="Always ``alert/1``.")
    case_reference: str | None = None
    urgency: Literal["routine", "urgent", "immediate"] | None = Field(
        default=None, description="Absent: ``immediate``."
    )
    person: NativePerson
    others: list[NativeOther] = Field(default_factory=list)
    alert: NativeAlert

    @model_validator(mode="after")
    def _refs_unique(self) -> AlertRecord:
        refs = [o.ref for o in self.others]
        if PERSON_REF in refs or len(set(refs)) != len(refs):
            raise ValueError(f"each other person needs a ref of their own, other than {PERSON_REF}")
        return self
