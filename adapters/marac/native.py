"""The MARAC JSON format (``marac/1``): referrals and meeting feeds.

A referral carries the DASH risk checklist (24 answers, ``Y``/``N``/``NK``),
the grounds for referral, consent (and the justification when information is
shared without it), the victim, the perpetrator and the children in the
household. A meeting feed carries the cases on the list with their actions
and outcomes. Documented in ``docs/formats/marac.md``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field

from adapters.alerts import NativeAlert
from adapters.base import DeclaredPurposes, NativeModel
from adapters.meetings import NativeAction
from contracts import DASH_QUESTIONS


class NativeAddress(NativeModel):
    lines: list[str] = Field(default_factory=list)
    town: str | None = None
    postcode: str | None = None
    local_authority: str | None = None
    no_fixed_abode: bool | None = Field(
        default=None, description="No fixed abode (give no lines or postcode)."
    )


class NativePerson(NativeModel):
    ref: str = Field(min_length=1)
    forename: str | None = None
    surname: str | None = None
    dob: date | None = None
    gender: str | None = None
    nhs_number: str | None = None
    pnc_id: str | None = None
    local_id: str | None = Field(default=None, description="The referring agency's own id")
    address: NativeAddress | None = None
    safe_contact: str | None = Field(default=None, description="How to reach the victim safely")


class NativeOtherPerson(NativePerson):
    """Anyone else on the form: a witness, or another person (a new partner, a relative)."""

    role: Literal["witness", "other"]


class NativeDash(NativeModel):
    answers: list[Literal["Y", "N", "NK"]] = Field(
        min_length=DASH_QUESTIONS, max_length=DASH_QUESTIONS
    )
    total: int = Field(ge=0, le=DASH_QUESTIONS, description="Number of 'Y' ticks")
    completed: datetime | None = None


class NativeConsent(NativeModel):
    given: bool
    date: datetime | None = None
    justification: str | None = None


class NativeReferralDetail(NativeModel):
    id: str | None = None
    date: datetime
    referring_agency: str = Field(min_length=1)
    referrer: str | None = None
    grounds: list[Literal["visible_high_risk", "professional_judgement", "escalation"]] = Field(
        default_factory=list
    )
    reason: str | None = None
    outcome: Literal["pending", "accepted", "declined"] | None = None


class MaracReferral(DeclaredPurposes):
    """A referral; with no ``purpose``/``purposes`` the referrer's registration decides."""

    format: Literal["marac/1"]
    kind: Literal["referral"]
    marac_case_id: str | None = None
    urgency: Literal["routine", "urgent", "immediate"] = "routine"
    referral: NativeReferralDetail
    dash: NativeDash | None = None
    consent: NativeConsent
    children_in_household: int | None = Field(default=None, ge=0)
    victim: NativePerson
    perpetrator: NativePerson
    children: list[NativePerson] = Field(default_factory=list)
    others: list[NativeOtherPerson] = Field(default_factory=list)


class NativeCase(NativeModel):
    marac_case_id: str = Field(min_length=1)
    position: int | None = Field(default=None, ge=1)
    referring_agency: str | None = None
    repeat: bool | None = None
    victim: NativePerson
    perpetrator: NativePerson | None = None
    children: list[NativePerson] = Field(default_factory=list)
    others: list[NativeOtherPerson] = Field(default_factory=list)
    actions: list[NativeAction] = Field(default_factory=list)
    outcomes: list[str] = Field(default_factory=list)


class NativeMeeting(NativeModel):
    id: str = Field(min_length=1)
    date: date
    area: str | None = None


class MaracMeetingFeed(DeclaredPurposes):
    """The feed's envelope; each case is validated on its own (a bad case fails alone).
    Its purposes (or, with none, the sender's registration) apply to every case."""

    format: Literal["marac/1"]
    kind: Literal["meeting"]
    meeting: NativeMeeting
    cases: list[Any] = Field(min_length=1)


class MaracAlert(DeclaredPurposes):
    """An urgent alert raised at a meeting (``meeting`` given) or between meetings, about
    a case on the MARAC's list; it names the victim, the perpetrator, or both."""

    format: Literal["marac/1"]
    kind: Literal["alert"]
    marac_case_id: str | None = None
    urgency: Literal["routine", "urgent", "immediate"] | None = Field(
        default=None, description="Absent: ``immediate``."
    )
    meeting: NativeMeeting | None = Field(
        default=None, description="The meeting the alert was raised at; none between meetings."
    )
    victim: NativePerson | None = None
    perpetrator: NativePerson | None = None
    children: list[NativePerson] = Field(default_factory=list)
    others: list[NativeOtherPerson] = Field(default_factory=list)
    alert: NativeAlert
