"""Typed model of a routes file: who at a party receives a copy, now and next.

These models are the routing language. The JSON Schema editors use
(``policies/schema/routes.schema.json``) is generated from them by
``python -m gateway.routing.schema``; see ``docs/routing.md``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, WithJsonSchema, field_validator, model_validator

from contracts import Category, SubjectRole, Urgency
from gateway.policy.model import ID_PATTERN, FieldPath, PolicyModel

#: How long a desk has to acknowledge: the policy obligations' words, minutes to weeks.
ACK_PATTERN = r"^[1-9][0-9]* (minute|hour|day|week)s?$"
Period = Annotated[str, Field(pattern=ACK_PATTERN)]
#: "08:00-16:00"; several ranges in a list. Quote it: YAML reads a bare 16:00 as a number.
HOURS_PATTERN = r"^[0-2][0-9]:[0-5][0-9]-[0-2][0-9]:[0-5][0-9]$"
Hours = Annotated[
    str, WithJsonSchema({"type": "string", "pattern": HOURS_PATTERN, "examples": ["08:00-16:00"]})
]
#: A weekday ("monday") or a run of them ("monday-friday").
DAYS_PATTERN = r"^[a-z]+(-[a-z]+)?$"
#: The fields that name the case's own officer, read when a route says named_officer: true.
NAMED_OFFICER_FIELDS = ("payload.probation.supervising_officer", "payload.crime.officer_in_case")
#: Whose address and PDU a route's areas and pdus read by default.
DEFAULT_ROLES = (SubjectRole.PERPETRATOR, SubjectRole.SUSPECT, SubjectRole.OFFENDER)


class Closure(PolicyModel):
    """Days a team is closed beyond bank holidays: a training day, an office move."""

    from_: dt.date = Field(alias="from")
    to: dt.date | None = Field(default=None, description="Last day closed (default: from).")
    reason: str = ""


class CalendarSpec(PolicyModel):
    """When a team works: hours per weekday, less bank holidays and local closures."""

    id: str = Field(pattern=ID_PATTERN)
    name: str = ""
    hours: dict[Annotated[str, Field(pattern=DAYS_PATTERN)], Hours | list[Hours]] = Field(
        default_factory=dict,
        description='Weekday or run of weekdays -> "HH:MM-HH:MM" or a list of them, '
        'e.g. monday-friday: "08:00-16:00".',
    )

    @field_validator("hours", mode="before")
    @classmethod
    def _quoted(cls, value: object) -> object:
        """YAML reads a bare 16:00 as the number 960: say so instead of 'not a string'."""
        for day, spans in value.items() if isinstance(value, dict) else ():
            for span in spans if isinstance(spans, list) else [spans]:
                if isinstance(span, int):
                    raise ValueError(
                        f"{day}: {span} is not a time range; write it in quotes, e.g. "
                        f'"08:00-16:00" (YAML reads a bare 16:00 as the number 960)'
                    )
        return value

    closed_on_bank_holidays: bool = Field(
        default=True, description="England and Wales bank holidays (the holidays package)."
    )
    closures: list[dt.date | Closure] = Field(
        default_factory=list, description="Local closures: dates, or from/to ranges."
    )


class DeskSpec(PolicyModel):
    """Who at a party receives a copy: a team's inbox, a duty rota, a named officer."""

    id: str = Field(pattern=ID_PATTERN)
    party: str = Field(description="The party (of the agreement) the desk belongs to.")
    name: str
    staff: list[str] = Field(
        default_factory=list,
        description="The people who staff it: OIDC subjects or email addresses.",
    )
    names: list[str] = Field(
        default_factory=list,
        description="Names a record may give for this officer (supervising officer, "
        "officer in case), matched without regard to case.",
    )
    always_open: bool = Field(
        default=False, description="A 24/7 function: a force control room, a crisis line."
    )


class EscalationSpec(PolicyModel):
    """One step of an escalation chain: who next if nobody acknowledged in time."""

    desk: str
    acknowledge_within: Period | None = None


class Target(PolicyModel):
    """A desk to send to, and the chain that follows it."""

    desk: str
    acknowledge_within: Period | None = Field(
        default=None,
        description="The first desk's deadline; the flow's obligation still applies if shorter.",
    )
    escalation: list[EscalationSpec] = Field(default_factory=list)


class RouteSpec(PolicyModel):
    """For a party the policy permitted: which desk receives, by hours, urgency and place.

    Routes are tried in file order; the first whose conditions all hold decides.
    """

    id: str = Field(pattern=ID_PATTERN)
    description: str = ""
    party: str = Field(description="The policy recipient this route is for.")
    categories: list[Category] | None = Field(default=None, description="Only these categories.")
    urgency: list[Urgency] | None = Field(default=None, description="Only these urgencies.")
    areas: list[str] | None = Field(
        default=None,
        description="Only when a subject (of roles) lives in one of these local authorities.",
    )
    pdus: list[str] | None = Field(
        default=None,
        description="Only when the record's probation PDU (subjects[].probation_pdu, "
        "payload.probation.pdu) is one of these.",
    )
    roles: list[SubjectRole] = Field(
        default_factory=lambda: list(DEFAULT_ROLES),
        description="Whose address and PDU areas and pdus read.",
    )
    named_officer: bool | list[FieldPath] = Field(
        default=False,
        description="In hours, first to the desk whose names include the officer the record "
        "names (true: payload.probation.supervising_officer, payload.crime.officer_in_case).",
    )
    calendar: str | None = Field(
        default=None, description="When in_hours applies; without one, always."
    )
    in_hours: Target
    out_of_hours: Target | None = None
    fallback_party_ok: bool = Field(
        default=False,
        description="A desk of another party may receive: the policy permitted only this "
        "party, so say so explicitly (a force control room for an urgent alert).",
    )

    @model_validator(mode="after")
    def _out_of_hours_needs_hours(self) -> RouteSpec:
        if self.out_of_hours is not None and self.calendar is None:
            raise ValueError("out_of_hours needs a calendar saying when the hours are")
        return self

    def officer_fields(self) -> tuple[str, ...]:
        if self.named_officer is True:
            return NAMED_OFFICER_FIELDS
        return tuple(self.named_officer) if self.named_officer else ()


class RoutesDocument(PolicyModel):
    """``<policy dir>/routes/routes.yaml``."""

    timezone: str = Field(default="Europe/London", description="An IANA time zone.")
    calendars: list[CalendarSpec] = Field(default_factory=list)
    desks: list[DeskSpec] = Field(default_factory=list)
    routes: list[RouteSpec] = Field(default_factory=list)


StepExpectation = Annotated[str, Field(description="A desk id.")]


class ExpectedStep(PolicyModel):
    desk: str
    party: str | None = None
    acknowledge_within: Period | Literal["none"] | None = Field(
        default=None, description='The step\'s deadline; "none" for no deadline.'
    )
