"""The MAPPA notification JSON format (``mappa/1``): category/level changes, meeting outcomes.

Probation systems code MAPPA categories 1-4 and management levels 1-3.
Documented in ``docs/formats/mappa.md``.
"""

from __future__ import annotations

import datetime as dt
from datetime import date
from typing import Literal

from pydantic import Field

from adapters.base import NativeModel
from adapters.meetings import NativeAction
from contracts import CRN_PATTERN, NOMS_PATTERN


class NativeOffender(NativeModel):
    crn: str | None = Field(default=None, pattern=CRN_PATTERN.pattern)
    noms_number: str | None = Field(default=None, pattern=NOMS_PATTERN.pattern)
    pnc_id: str | None = None
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


class MappaNotification(NativeModel):
    format: Literal["mappa/1"]
    kind: Literal["level_change", "meeting_outcome"]
    purpose: str = Field(min_length=1)
    case_reference: str | None = None
    urgency: Literal["routine", "urgent", "immediate"] = "routine"
    area: str | None = None
    offender: NativeOffender
    category: int = Field(ge=1, le=4)
    level: int = Field(ge=1, le=3)
    previous: NativePrevious | None = None
    effective: date | None = None
    lead_agency: str | None = None
    meeting: NativeMeeting | None = None
