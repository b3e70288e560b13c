"""The police crime-record JSON format (version 1), as partner systems send it.

Documented with an example in ``docs/formats/police.md``; samples live in
``examples/police/``. The daily screening batch is in ``screening.py``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal, get_args

from pydantic import Field, model_validator

from adapters.alerts import NativeAlert
from adapters.base import DeclaredPurposes, NativeModel
from contracts import OffenceClass

#: The roles a police record gives a person: ``suspect`` (not yet convicted; the
#: usual word), ``perpetrator`` (where the force records one, e.g. from a
#: conviction or a civil order), ``victim``, ``child`` (a child of the household,
#: or a child victim), ``witness`` and ``other``.
PoliceRole = Literal["suspect", "perpetrator", "victim", "child", "witness", "other"]
POLICE_ROLES: tuple[str, ...] = get_args(PoliceRole)


class NativeOffence(NativeModel):
    ho_code: str = Field(min_length=1, description="Home Office offence code")
    act: str | None = None
    section: str | None = None
    title: str | None = None
    classification: OffenceClass | None = Field(
        default=None, description="Overrides the class implied by act and section."
    )


class NativeAddress(NativeModel):
    lines: list[str] = Field(default_factory=list)
    town: str | None = None
    postcode: str | None = None
    district: str | None = Field(default=None, description="Local authority area")


class NativePerson(NativeModel):
    ref: str = Field(min_length=1)
    role: PoliceRole
    pnc_id: str | None = None
    local_id: str | None = None
    forename: str | None = None
    surname: str | None = None
    dob: date | None = None
    gender: str | None = None
    address: NativeAddress | None = None
    no_fixed_abode: bool | None = Field(
        default=None, description="NFA: the person has no fixed abode (give no address lines)."
    )
    safe_contact: str | None = None
    probation_pdu: str | None = Field(
        default=None, description="The probation delivery unit managing the person, if known."
    )

    @model_validator(mode="after")
    def _nfa_has_no_home(self) -> NativePerson:
        """NFA and a street address contradict each other; a district (where the person
        was found) may stay."""
        if self.no_fixed_abode and self.address and (self.address.lines or self.address.postcode):
            raise ValueError("a person of no fixed abode has no address lines or postcode")
        return self


class NativeRisk(NativeModel):
    tool: Literal["DASH", "SASH", "SAI"]
    level: Literal["standard", "low", "medium", "high", "very_high"]
    score: int | None = Field(default=None, ge=0)
    assessed: datetime | None = None


class NativeOccurrence(NativeModel):
    number: str = Field(min_length=1)
    reported: datetime | None = None
    committed_from: datetime | None = None
    committed_to: datetime | None = None
    status: str | None = None
    offence: NativeOffence
    circumstances: str | None = None
    officer_in_case: str | None = None


class NativeCondition(NativeModel):
    text: str = Field(min_length=1)
    type: str | None = None
    compliance: Literal["complying", "partial", "breached", "not_yet_due", "unknown"] = "unknown"
    noted: datetime | None = None
    detail: str | None = None


class NativeArrest(NativeModel):
    person_ref: str = Field(min_length=1)
    arrested: datetime
    reason: str | None = None
    custody_number: str | None = None
    custody_suite: str | None = None
    released: datetime | None = None
    outcome: (
        Literal[
            "bail",
            "released_under_investigation",
            "charged",
            "remanded",
            "no_further_action",
            "still_in_custody",
        ]
        | None
    ) = None
    bail_conditions: list[str] = Field(default_factory=list)
    bail_return: date | None = None


class NativeDisposal(NativeModel):
    person_ref: str = Field(min_length=1)
    type: Literal[
        "charge",
        "conditional_caution",
        "simple_caution",
        "community_resolution",
        "out_of_court_other",
        "no_further_action",
    ]
    decided: datetime
    ho_code: str | None = None
    court: str | None = None
    first_hearing: date | None = None
    conditions: list[NativeCondition] = Field(default_factory=list)


class NativeOrder(NativeModel):
    """A Stalking Protection Order (or other protective order) and its conditions."""

    person_ref: str = Field(min_length=1)
    type: Literal["SPO", "ISPO", "NMO", "RO"]
    stage: Literal["applied", "granted", "refused", "varied", "discharged", "breached"]
    order_ref: str | None = None
    court: str | None = None
    applied: date | None = None
    decided: date | None = None
    expires: date | None = None
    prohibitions: list[NativeCondition] = Field(default_factory=list)
    requirements: list[NativeCondition] = Field(default_factory=list)


class PoliceCrimeRecord(DeclaredPurposes):
    """One record; ``purpose``/``purposes`` (from :class:`DeclaredPurposes`) may both be
    absent, and the force's registration in the agreement then gives them."""

    format: Literal["police-crime/1"]
    record_type: Literal["crime", "custody", "disposal", "order", "alert"] | None = Field(
        default=None,
        description="What the record reports; decides its category. Absent: ``alert`` when "
        "the record has an ``alert`` block, else ``crime``.",
    )
    case_reference: str | None = None
    urgency: Literal["routine", "urgent", "immediate"] | None = Field(
        default=None, description="Absent: ``immediate`` for an alert, else ``routine``."
    )
    occurrence: NativeOccurrence | None = Field(
        default=None,
        description="The occurrence; every record type but ``alert`` needs one (an alert "
        "may be raised from intelligence before any occurrence is recorded).",
    )
    alert: NativeAlert | None = Field(
        default=None, description="An urgent alert: what it warns of, when and by whom."
    )
    persons: list[NativePerson] = Field(min_length=1)
    risk: NativeRisk | None = None
    arrests: list[NativeArrest] = Field(default_factory=list)
    disposals: list[NativeDisposal] = Field(default_factory=list)
    orders: list[NativeOrder] = Field(default_factory=list)

    @property
    def kind(self) -> str:
        """The record type, ``alert`` when unstated and an alert block is given."""
        return self.record_type or ("alert" if self.alert else "crime")
