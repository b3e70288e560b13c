"""What every format's urgent alert shares: the native ``alert`` block and its rules.

Police, probation, MARAC, MAPPA and the generic ``alert/1`` format all carry an
alert in one native shape, ``{indicators, detail, raised_at, raised_by,
valid_until}``; the first indicator is the main one (the canonical
``AlertSection.kind``, which routing acts on), the rest travel as
``indicators``. FHIR codes the same indicators as codings and uses the rules
here too. Kept once so a partner learns one set of words and one set of errors.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import Field, field_validator, model_validator

from adapters.base import NativeModel
from contracts import AlertKind, AlertSection, Subject, Urgency
from gateway.errors import FieldProblem, InvalidRecord

#: The indicator words a partner may send, the canonical alert kinds.
INDICATORS: tuple[str, ...] = tuple(kind.value for kind in AlertKind)
#: How far ahead of the gateway's clock ``raised_at`` may be: partner clocks drift
#: a little, but an alert "raised" an hour from now is a typo that would sort wrongly.
CLOCK_SKEW = timedelta(minutes=5)


def indicator(value: str) -> AlertKind:
    """One indicator word, or a ValueError that lists the known ones."""
    if value not in INDICATORS:
        raise ValueError(f"unknown alert indicator {value!r}: one of {', '.join(INDICATORS)}")
    return AlertKind(value)


class NativeAlert(NativeModel):
    """An urgent alert as a partner sends it; the first indicator is the main one."""

    indicators: list[str] = Field(
        min_length=1,
        description="What the alert warns of, main indicator first: " + ", ".join(INDICATORS),
    )
    detail: str | None = None
    raised_at: datetime
    raised_by: str | None = None
    valid_until: datetime | None = None

    @field_validator("indicators")
    @classmethod
    def _known_once(cls, values: list[str]) -> list[str]:
        for value in values:
            indicator(value)
        if len(set(values)) != len(values):
            raise ValueError("an indicator is listed twice")
        return values

    @model_validator(mode="after")
    def _valid_after_raised(self) -> NativeAlert:
        if self.valid_until and _utc(self.valid_until) <= _utc(self.raised_at):
            raise ValueError("valid_until must be after raised_at")
        return self


def _utc(moment: datetime) -> datetime:
    """A time without a zone is read as UTC (as the gateway stores it)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def raised_in_future(raised_at: datetime, received_at: datetime) -> str | None:
    """Why ``raised_at`` cannot be right, if it is later than the gateway's clock by more
    than :data:`CLOCK_SKEW`; None when it is fine."""
    if _utc(raised_at) <= _utc(received_at) + CLOCK_SKEW:
        return None
    minutes = CLOCK_SKEW // timedelta(minutes=1)
    return (
        f"{raised_at.isoformat()} is after the time the gateway received the alert "
        f"({received_at.isoformat()}) by more than {minutes} minutes; check the sending "
        "system's clock and time zone"
    )


def check_raised_at(
    raised_at: datetime, received_at: datetime, field: str, record: int | str | None = None
) -> None:
    """Refuse an alert raised in the future (beyond :data:`CLOCK_SKEW`)."""
    problem = raised_in_future(raised_at, received_at)
    if problem:
        raise InvalidRecord(
            "the alert was raised in the future", [FieldProblem(field, problem, record)]
        )


def alert_section(
    native: NativeAlert,
    received_at: datetime,
    field: str = "alert",
    record: int | str | None = None,
) -> AlertSection:
    """The canonical alert: the first indicator is the kind, the others its indicators."""
    check_raised_at(native.raised_at, received_at, f"{field}.raised_at", record)
    kinds = [AlertKind(value) for value in native.indicators]
    return AlertSection(
        kind=kinds[0],
        indicators=kinds[1:],
        detail=native.detail,
        raised_at=native.raised_at,
        raised_by=native.raised_by,
        valid_until=native.valid_until,
    )


def native_alert(alert: dict[str, Any] | None) -> dict[str, Any] | None:
    """A canonical alert (as JSON, possibly minimised) in the native block's shape."""
    if not alert:
        return None
    kinds = [alert.get("kind"), *(alert.get("indicators") or [])]
    return {
        "indicators": [k for k in kinds if k],
        "detail": alert.get("detail"),
        "raised_at": alert.get("raised_at"),
        "raised_by": alert.get("raised_by"),
        "valid_until": alert.get("valid_until"),
    }


def alert_urgency(stated: str | None, is_alert: bool) -> Urgency:
    """What the sender said, else ``immediate`` for an alert and ``routine`` for the rest."""
    if stated:
        return Urgency(stated)
    return Urgency.IMMEDIATE if is_alert else Urgency.ROUTINE


def names_someone(subject: Subject) -> bool:
    """A person is named by any identifier (NHS number, PNC ID, CRN ...) or by name and
    date of birth; a name alone could be anyone."""
    named = subject.name is not None and bool(subject.name.given or subject.name.family)
    return bool(subject.identifiers) or (named and subject.date_of_birth is not None)


def check_alert_names_someone(
    subjects: list[Subject], field: str, record: int | str | None = None
) -> None:
    """Refuse an alert that names nobody: no recipient could act on it."""
    if not any(names_someone(s) for s in subjects):
        raise InvalidRecord(
            "the alert names nobody anyone could find",
            [
                FieldProblem(
                    field,
                    "an alert names its person by an NHS number, PNC ID, CRN, NOMS number or "
                    "local id, or by name and date of birth",
                    record,
                )
            ],
        )
