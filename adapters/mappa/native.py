"""The MAPPA notification JSON format (``mappa/1``): category/level changes, meeting outcomes.

Probation systems code MAPPA categories 1-4 and management levels 1-3.
Documented in ``docs/formats/mappa.md``.
"""

from __future__ import annotations

import datetime as dt
from datetime import date
from typing import Literal

from pydantic import Field

from adapters.alerts import NativeAlert
from adapters.base import DeclaredPurposes, NativeModel
from adapters.meetings import NativeAction
from contracts import CRN_PATTERN, NOMS_PATTERN


class NativeOffender(NativeModel):
    crn: str | None = Field(default=None, pattern=CRN_PATTERN.pattern)
    noms_number: str | None = Field(default=None, pattern=NOMS_PATTERN.pattern)
    pnc_id: str | None = None
    forename: str | None = None
    surname: str | None = None
    dob: date | None = None


class NativePerson(NativeModel):
    """Someone else the case names: a victim the plan protects, a child, a witness."""

    ref: str = Field(min_length=1, max_length=32)
    role: Literal["victim", "child", "witness", "other"]
    forename: str | None = None
    surname: str | None = None
    dob: date | None = None


class NativePrevious(NativeModel):
    category: int | None = Field(default=None, ge=1, le=4)
    level: int | None = Field(default=None, ge=1, le=3)


class NativeMeeting(NativeModel):
    id: str = Field(min_length=1)
    date: dt.date
    outcome: str | None = None
    next_review: dt.date | None = None  # ``date`` here is the field above
    actions: list[NativeAction] = Field(default_factory=list)


class MappaNotification(DeclaredPurposes):
    """One notification; with no ``purpose``/``purposes`` the sender's registration decides."""

    format: Literal["mappa/1"]
    kind: Literal["level_change", "meeting_outcome", "alert"]
    case_reference: str | None = None
    urgency: Literal["routine", "urgent", "immediate"] | None = Field(
        default=None, description="Absent: ``immediate`` for an alert, else ``routine``."
    )
    area: str | None = None
    offender: NativeOffender
    persons: list[NativePerson] = Field(
        default_factory=list, description="Other people the case names, each with a role."
    )
    category: int = Field(ge=1, le=4)
    level: int = Field(ge=1, le=3)
    previous: NativePrevious | None = None
    effective: date | None = None
    lead_agency: str | None = None
    meeting: NativeMeeting | None = Field(
        default=None,
        description="The meeting; on an alert, the meeting it was raised at (none: between "
        "meetings).",
    )
    alert: NativeAlert | None = Field(
        default=None, description="The urgent alert of a notification of kind ``alert``."
    )
