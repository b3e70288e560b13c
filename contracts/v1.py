"""Canonical exchange contract, version 1.

Every adapter turns a partner's native record into an :class:`Exchange` and
every recipient-facing rendering starts from one. Policy rules, minimisation
paths and the audit trail all speak in terms of the field paths of this model
(``subjects[].identifiers``, ``payload.crime.offence`` ...), so a breaking change
here is a new contract version (``contracts/v2.py``), never an edit in place.

Models forbid unknown fields: a partner that sends a field we do not know gets
a clear error instead of having it silently dropped or silently shared.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

CONTRACT_VERSION = "1"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, str_strip_whitespace=True)


class IdentifierSystem(StrEnum):
    """Person identifiers a partnership uses (see DOMAIN.md, Identifiers)."""

    NHS_NUMBER = "nhs_number"
    PNC_ID = "pnc_id"
    CRN = "crn"
    NOMS_NUMBER = "noms_number"
    LOCAL = "local"


def nhs_number_is_valid(value: str) -> bool:
    """Modulus 11 check of a 10-digit NHS number."""
    digits = value.replace(" ", "")
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(int(d) * (10 - i) for i, d in enumerate(digits[:9]))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


class Identifier(_Strict):
    system: IdentifierSystem
    value: str = Field(min_length=1, max_length=64)
    issuer: str | None = Field(
        default=None, description="Who assigned a local identifier (e.g. a force or trust)."
    )

    @field_validator("value")
    @classmethod
    def _no_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("identifier value must not be blank")
        return value


class SubjectRole(StrEnum):
    PERPETRATOR = "perpetrator"
    SUSPECT = "suspect"
    VICTIM = "victim"
    PATIENT = "patient"
    OFFENDER = "offender"
    CHILD = "child"
    WITNESS = "witness"
    OTHER = "other"


class PersonName(_Strict):
    given: str | None = None
    family: str | None = None


class Address(_Strict):
    lines: list[str] = Field(default_factory=list)
    town: str | None = None
    postcode: str | None = None
    local_authority: str | None = Field(
        default=None, description="Local authority area, e.g. 'Warrington'; drives routing."
    )


class Subject(_Strict):
    """A person the exchange is about."""

    ref: str = Field(min_length=1, max_length=32, description="Reference within this exchange.")
    role: SubjectRole
    identifiers: list[Identifier] = Field(default_factory=list)
    name: PersonName | None = None
    date_of_birth: date | None = None
    gender: str | None = None
    address: Address | None = None
    safe_contact: str | None = Field(
        default=None, description="Safe contact details for a victim; never perpetrator-facing."
    )


class Category(StrEnum):
    """What kind of information an exchange carries; policies decide per category."""

    CRIME_RECORD = "crime_record"
    REFERRAL = "referral"
    RISK_ASSESSMENT = "risk_assessment"
    HEALTH_INFORMATION = "health_information"
    COMPLIANCE = "compliance"
    URGENT_ALERT = "urgent_alert"
    MEETING_FEED = "meeting_feed"


class Urgency(StrEnum):
    ROUTINE = "routine"
    URGENT = "urgent"
    IMMEDIATE = "immediate"


class Offence(_Strict):
    code: str = Field(min_length=1, description="Home Office or local offence code.")
    legislation: str | None = Field(
        default=None, description="e.g. 'Protection from Harassment Act 1997 s2A'."
    )
    description: str | None = None


class CrimeSection(_Strict):
    """A police crime or occurrence record."""

    occurrence_number: str = Field(min_length=1)
    offence: Offence
    reported_at: datetime | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None
    status: str | None = Field(default=None, description="e.g. 'under investigation'.")
    summary: str | None = Field(default=None, description="Free-text circumstances.")
    officer_in_case: str | None = None


class RiskTool(StrEnum):
    DASH = "DASH"
    SASH = "SASH"
    SAI = "SAI"
    ROSH = "RoSH"
    CLINICAL = "clinical"


class RiskLevel(StrEnum):
    STANDARD = "standard"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    VERY_HIGH = "very_high"


class RiskSection(_Strict):
    tool: RiskTool
    level: RiskLevel
    score: int | None = Field(default=None, ge=0)
    assessed_at: datetime | None = None
    rationale: str | None = None


class Payload(_Strict):
    """Typed payload sections; an exchange fills the ones its category needs.

    Later adapters add sections (health, compliance, alert, meeting) here.
    """

    crime: CrimeSection | None = None
    risk: RiskSection | None = None


class Exchange(_Strict):
    """The canonical envelope every partner record becomes."""

    contract_version: Literal["1"] = CONTRACT_VERSION
    exchange_id: UUID
    source_partner: str = Field(min_length=1, max_length=64)
    submitted_at: datetime
    category: Category
    purpose: str = Field(min_length=1, max_length=64)
    urgency: Urgency = Urgency.ROUTINE
    case_reference: str | None = Field(
        default=None, description="The partnership's case id (MARAC or unit case), if any."
    )
    subjects: list[Subject] = Field(min_length=1)
    payload: Payload

    @field_validator("subjects")
    @classmethod
    def _unique_refs(cls, subjects: list[Subject]) -> list[Subject]:
        refs = [s.ref for s in subjects]
        if len(refs) != len(set(refs)):
            raise ValueError("subject refs must be unique within an exchange")
        return subjects
