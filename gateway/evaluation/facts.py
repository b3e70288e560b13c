"""The facts an export reads from one record, after the policy minimised it.

Only what the export flow's fields let cross is here: a record's identifiers,
names and addresses were removed before these functions see it. Dates stay
exact on the custodian's side (the measures need days); the files coarsen
them to the month.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from gateway.policy.transforms import as_date

#: Police categories whose records are the later police records of the export.
POLICE_CATEGORIES = frozenset({"crime_record", "custody_event", "disposal", "civil_order"})
#: Offence classes that are breaches of an order.
BREACHES = frozenset({"breach_spo", "breach_non_molestation_order", "breach_community_resolution"})
CAUTIONS = frozenset({"conditional_caution", "simple_caution"})


@dataclass(frozen=True)
class Referral:
    on: date
    referred_to: str | None
    referring_agency: str | None
    outcome: str | None
    intervention: str | None
    high_risk: bool | None


@dataclass(frozen=True)
class Intervention:
    on: date  # when the record says it (its completion date, else the record's date)
    provider: str
    intervention: str | None
    engagement: str | None
    sessions_offered: int | None
    sessions_attended: int | None
    completed: bool | None
    completed_on: date | None


@dataclass(frozen=True)
class Risk:
    on: date
    tool: str
    level: str
    agency: str


@dataclass(frozen=True)
class PoliceEvent:
    on: date
    #: offence | breach (of an order, as a crime record) | arrest | charge | caution |
    #: disposal (another kind) | order (a civil order's stage)
    event: str
    offence_class: str | None = None
    detail: str | None = None


@dataclass
class Facts:
    """Everything the export knows of one person, from the records it was permitted."""

    age_band: str | None = None
    agencies: set[str] = field(default_factory=set)
    referrals: list[Referral] = field(default_factory=list)
    interventions: list[Intervention] = field(default_factory=list)
    risks: list[Risk] = field(default_factory=list)
    police: list[PoliceEvent] = field(default_factory=list)


def _day(value: Any, fallback: date) -> date:
    """The date a record gives, else ``fallback`` (the date the record was sent)."""
    found = as_date(value) if value else None
    return found or fallback


def add_facts(
    facts: Facts, record: dict[str, Any], subject_ref: str, sender: str, agency: str
) -> None:
    """Add what the minimised ``record`` says about its subject ``subject_ref``."""
    on = as_date(record.get("submitted_at")) or date.min
    subject: dict[str, Any] = next(
        (s for s in record.get("subjects", []) if s.get("ref") == subject_ref), {}
    )
    facts.agencies.add(agency)
    band = subject.get("date_of_birth")
    if band and facts.age_band is None:
        facts.age_band = str(band)
    payload = record.get("payload") or {}
    referral = payload.get("referral")
    if referral:
        facts.referrals.append(
            Referral(
                on=_day(referral.get("referred_at"), on),
                referred_to=referral.get("referred_to"),
                referring_agency=referral.get("referring_agency"),
                outcome=referral.get("outcome"),
                intervention=referral.get("intervention"),
                high_risk=referral.get("high_risk"),
            )
        )
    health = payload.get("health")
    if health:
        completed_on = as_date(health.get("completed_on")) if health.get("completed_on") else None
        facts.interventions.append(
            Intervention(
                on=completed_on or on,
                provider=sender,
                intervention=health.get("intervention"),
                engagement=health.get("engagement"),
                sessions_offered=health.get("sessions_offered"),
                sessions_attended=health.get("sessions_attended"),
                completed=health.get("completed"),
                completed_on=completed_on,
            )
        )
    risk = payload.get("risk")
    if risk and risk.get("tool") and risk.get("level"):
        facts.risks.append(
            Risk(_day(risk.get("assessed_at"), on), risk["tool"], risk["level"], sender)
        )
    if record.get("category") in POLICE_CATEGORIES or agency == "police":
        _police(facts, payload, subject_ref, subject.get("role"), on)


def _police(facts: Facts, payload: dict[str, Any], ref: str, role: str | None, on: date) -> None:
    crime = payload.get("crime")
    if crime and role in ("suspect", "perpetrator", "offender"):
        offence_class = (crime.get("offence") or {}).get("offence_class")
        when = _day(crime.get("reported_at") or crime.get("occurred_from"), on)
        kind = "breach" if offence_class in BREACHES else "offence"
        facts.police.append(PoliceEvent(when, kind, offence_class))
    for arrest in payload.get("arrests") or []:
        if arrest.get("subject_ref") == ref:
            facts.police.append(PoliceEvent(_day(arrest.get("arrested_at"), on), "arrest"))
    for disposal in payload.get("disposals") or []:
        if disposal.get("subject_ref") == ref:
            kind = disposal.get("kind")
            event = "charge" if kind == "charge" else "caution" if kind in CAUTIONS else "disposal"
            facts.police.append(
                PoliceEvent(_day(disposal.get("decided_at"), on), event, detail=kind)
            )
    for order in payload.get("orders") or []:
        if order.get("subject_ref") == ref:
            stage = order.get("stage")
            facts.police.append(
                PoliceEvent(
                    _day(order.get("decided_on"), on),
                    "order",
                    detail=f"{order.get('kind')}: {stage}",
                )
            )
