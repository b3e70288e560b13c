"""The police crime-record JSON format (version 1), as partner systems send it.

Documented with an example in ``docs/formats/police.md``; samples live in
``examples/police/``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Native(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class NativeOffence(_Native):
    ho_code: str = Field(min_length=1, description="Home Office offence code")
    act: str | None = None
    section: str | None = None
    title: str | None = None


class NativeAddress(_Native):
    lines: list[str] = Field(default_factory=list)
    town: str | None = None
    postcode: str | None = None
    district: str | None = Field(default=None, description="Local authority area")


class NativePerson(_Native):
    ref: str = Field(min_length=1)
    role: Literal["suspect", "victim", "witness", "other"]
    pnc_id: str | None = None
    local_id: str | None = None
    forename: str | None = None
    surname: str | None = None
    dob: date | None = None
    gender: str | None = None
    address: NativeAddress | None = None
    safe_contact: str | None = None


class NativeRisk(_Native):
    tool: Literal["DASH", "SASH", "SAI"]
    level: Literal["standard", "low", "medium", "high", "very_high"]
    score: int | None = Field(default=None, ge=0)
    assessed: datetime | None = None


class NativeOccurrence(_Native):
    number: str = Field(min_length=1)
    reported: datetime | None = None
    committed_from: datetime | None = None
    committed_to: datetime | None = None
    status: str | None = None
    offence: NativeOffence
    circumstances: str | None = None
    officer_in_case: str | None = None


class PoliceCrimeRecord(_Native):
    format: Literal["police-crime/1"]
    purpose: str = Field(min_length=1)
    case_reference: str | None = None
    urgency: Literal["routine", "urgent", "immediate"] = "routine"
    occurrence: NativeOccurrence
    persons: list[NativePerson] = Field(min_length=1)
    risk: NativeRisk | None = None
