"""Synthetic partnership data with known links and known reoffending, for tests,
benchmarks and demonstrations; never for a real deployment.

Each person gets a PNC ID (police), an NHS number (health) and sometimes a
CRN (probation), a name, date of birth and address from
``faker``'s en_GB locale (a development dependency, imported when used). The
records are canonical exchanges in the formats partners send: the index
crime (police), the triage clinic's referral showing the PNC ID and NHS
number together (FHIR), the intervention's outcome under the NHS number
alone (FHIR), RoSH changes showing the CRN with the PNC ID, then quarterly
under the CRN alone (probation), a MARAC referral with DASH for some
(marac), and later offences with their disposals (police). Nothing but the
shared identifiers joins them: the gateway's linking must.

Who completes and who reoffends, when, is drawn from the rates given and
recorded in :class:`Truth`, so a test can check the export recovers them.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import uuid4

from contracts import Exchange
from gateway.evaluation.months import add_months

#: West Midlands local authority areas, for addresses.
AREAS = ("Birmingham", "Coventry", "Dudley", "Sandwell", "Solihull", "Walsall", "Wolverhampton")
INTERVENTIONS = ("fACT", "compassion-focused therapy")
REOFFENCE_CLASSES = ("harassment_s2", "stalking_s2a", "breach_spo", "breach_non_molestation_order")
RISK_LEVELS = ("low", "medium", "high")


@dataclass(frozen=True)
class Rates:
    """What the world is built from: the shares a test expects the export to show."""

    people: int = 300
    completion: float = 0.6
    reoffend_12m_completed: float = 0.15
    reoffend_12m_not_completed: float = 0.40
    #: Of those who reoffend within 12 months, the share within 6.
    within_6m: float = 0.5
    #: Of all reoffenders, the share whose first disposal is a charge (else a caution).
    charged: float = 0.6
    #: Every how-manyth person's intervention is never recorded (no health record).
    no_intervention_every: int = 100
    #: Every how-manyth person has a CRN (is on probation).
    crn_every: int = 2
    #: Every how-manyth person's case also goes to MARAC (a DASH checklist).
    marac_every: int = 5
    #: Referrals are spread over this many years from the start.
    years: int = 1


@dataclass
class Person:
    """One synthetic person and what happened to them (the ground truth)."""

    index: int
    given: str
    family: str
    born: date
    gender: str
    pnc_id: str
    nhs_number: str
    crn: str | None
    case_reference: str
    referred_on: date
    intervention: str | None
    completed: bool | None  # None: no intervention recorded
    ended_on: date | None
    #: Days after the index date (completion, else referral) of each later offence.
    reoffences: list[int] = field(default_factory=list)
    first_disposal: str | None = None  # charge | conditional_caution

    @property
    def index_date(self) -> date:
        """Completion for a completer, else the referral (as the export measures)."""
        return self.ended_on if self.completed and self.ended_on else self.referred_on

    @property
    def group(self) -> str:
        if self.completed is None:
            return "no intervention recorded"
        return "completed" if self.completed else "not completed"


@dataclass
class Truth:
    people: list[Person]

    def reoffended(self, person: Person, months: int) -> bool:
        return any(_within(person.index_date, d, months) for d in person.reoffences)

    def count(self, group: str | None, months: int) -> tuple[int, int]:
        """(people in the group, people who reoffended within ``months``)."""
        chosen = [p for p in self.people if group in (None, p.group)]
        return len(chosen), sum(self.reoffended(p, months) for p in chosen)


@dataclass(frozen=True)
class Record:
    """A synthetic exchange and the format (adapter) a partner would send it in."""

    fmt: str
    exchange: Exchange


def _within(start: date, days_after: int, months: int) -> bool:
    return start + timedelta(days=days_after) <= add_months(start, months)


def nhs_number(rng: random.Random) -> str:
    """A random NHS number with a valid modulus-11 check digit."""
    while True:
        digits = [rng.randrange(10) for _ in range(9)]
        check = 11 - sum(d * (10 - i) for i, d in enumerate(digits)) % 11
        check = 0 if check == 11 else check
        if check != 10:
            return "".join(map(str, digits)) + str(check)


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def people(rates: Rates, start: date, seed: int = 20) -> Truth:
    """The people and their ground truth (no records yet)."""
    from faker import Faker  # a development dependency: only the generator needs it

    fake = Faker("en_GB")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    out: list[Person] = []
    nhs_seen: set[str] = set()
    for i in range(rates.people):
        gender = rng.choice(("male", "male", "male", "female"))
        given = fake.first_name_male() if gender == "male" else fake.first_name_female()
        family = fake.last_name()
        if i == 1:  # two different people with the same name: names never link
            given, family = out[0].given, out[0].family
        number = nhs_number(rng)
        while number in nhs_seen:
            number = nhs_number(rng)
        nhs_seen.add(number)
        referred = start + timedelta(days=int(i * 365 * rates.years / rates.people))
        completed: bool | None = None
        intervention = ended = None
        if (i + 1) % rates.no_intervention_every:
            completed = rng.random() < rates.completion
            intervention = INTERVENTIONS[i % len(INTERVENTIONS)]
            ended = referred + timedelta(days=rng.randint(75, 120))
        reoffend = rates.reoffend_12m_completed if completed else rates.reoffend_12m_not_completed
        reoffences: list[int] = []
        if rng.random() < reoffend:
            first = (
                rng.randint(10, 175) if rng.random() < rates.within_6m else rng.randint(190, 360)
            )
            reoffences = [first]
            if rng.random() < 0.3:
                reoffences.append(first + rng.randint(20, 90))
        elif rng.random() < 0.1:
            reoffences = [rng.randint(380, 480)]  # after the 12 months: not counted
        person = Person(
            index=i,
            given=given,
            family=family,
            born=fake.date_of_birth(minimum_age=19, maximum_age=64),
            gender=gender,
            pnc_id=f"{(10 + i % 14):02d}/{100000 + i:06d}{'ABCDEFGHJK'[i % 10]}",
            nhs_number=number,
            crn=f"{'DEFHK'[i % 5]}{300000 + i:06d}" if i % rates.crn_every == 0 else None,
            case_reference=f"EASI-{start.year}-{i + 1:04d}",
            referred_on=referred,
            intervention=intervention,
            completed=completed,
            ended_on=ended,
            reoffences=reoffences,
        )
        if reoffences:
            person.first_disposal = (
                "charge" if rng.random() < rates.charged else "conditional_caution"
            )
        out.append(person)
    return Truth(out)


class _Writer:
    """Builds one person's canonical records."""

    def __init__(self, fake: Any, rng: random.Random, rates: Rates) -> None:
        self.fake, self.rng, self.rates = fake, rng, rates

    def subject(
        self, p: Person, ref: str, role: str, *ids: tuple[str, str | None]
    ) -> dict[str, Any]:
        return {
            "ref": ref,
            "role": role,
            "identifiers": [{"system": s, "value": v} for s, v in ids if v],
            "name": {"given": p.given, "family": p.family},
            "date_of_birth": p.born.isoformat(),
            "gender": p.gender,
            "address": {
                "lines": [self.fake.street_address()],
                "town": AREAS[p.index % len(AREAS)],
                "postcode": self.fake.postcode(),
                "local_authority": AREAS[p.index % len(AREAS)],
            },
        }

    def victim(self) -> dict[str, Any]:
        return {
            "ref": "V1",
            "role": "victim",
            "name": {"given": self.fake.first_name_female(), "family": self.fake.last_name()},
            "date_of_birth": self.fake.date_of_birth(minimum_age=18, maximum_age=70).isoformat(),
        }

    def records(self, p: Person) -> Iterator[Record]:
        rng = self.rng
        pnc = ("pnc_id", p.pnc_id)
        index_crime = p.referred_on - timedelta(days=rng.randint(7, 30))
        yield _record(
            "police",
            "wmp-easi",
            "crime_record",
            ["stalking-triage"],
            [self.subject(p, "P1", "suspect", pnc), self.victim()],
            {
                "crime": {
                    "occurrence_number": f"20WM/{p.index:06d}/{index_crime:%y}",
                    "offence": {
                        "code": "8Q",
                        "legislation": "Protection from Harassment Act 1997 s2A",
                        "offence_class": "stalking_s2a",
                    },
                    "reported_at": _at(index_crime).isoformat(),
                    "summary": f"{p.given} {p.family} followed the victim home repeatedly.",
                },
                "risk": {
                    "tool": "SASH",
                    "level": rng.choice(RISK_LEVELS),
                    "assessed_at": _at(index_crime, 15).isoformat(),
                },
            },
            case_reference=p.case_reference,
        )
        referral_ids: list[tuple[str, str | None]] = [pnc, ("nhs_number", p.nhs_number)]
        yield _record(
            "fhir",
            "easi-triage-clinic",
            "referral",
            ["perpetrator-intervention"],
            [self.subject(p, "P1", "perpetrator", *referral_ids)],
            {
                "referral": {
                    "referral_id": f"EASI-REF-{p.index:05d}",
                    "referred_to": "triage-clinic",
                    "referred_at": _at(p.referred_on).isoformat(),
                    "referring_agency": "wmp-easi",
                    "outcome": "accepted",
                    "intervention": p.intervention,
                }
            },
            case_reference=p.case_reference,
        )
        if p.index % self.rates.marac_every == 0:
            ticks = rng.randint(10, 20)
            answers = ["yes"] * ticks + ["no"] * (24 - ticks)
            yield _record(
                "marac",
                "wmp-easi",
                "referral",
                ["marac-risk-assessment"],
                [self.victim(), self.subject(p, "P1", "perpetrator", pnc)],
                {
                    "referral": {
                        "referral_id": f"WM-MARAC-{p.index:05d}",
                        "referred_to": "marac",
                        "referred_at": _at(p.referred_on + timedelta(days=3)).isoformat(),
                        "referring_agency": "West Midlands Police",
                        "grounds": [
                            "visible_high_risk" if ticks >= 14 else "professional_judgement"
                        ],
                        "high_risk": True,
                        "dash": {
                            "answers": answers,
                            "ticks": ticks,
                            "completed_at": _at(p.referred_on + timedelta(days=2)).isoformat(),
                        },
                        "consent": {"status": "given"},
                    },
                    "risk": {
                        "tool": "DASH",
                        "level": "high",  # a MARAC referral is high risk
                        "score": ticks,
                        "assessed_at": _at(p.referred_on + timedelta(days=2)).isoformat(),
                    },
                },
                case_reference=f"MARAC-WM-{p.index:05d}",
            )
        if p.ended_on:
            offered = 6
            attended = offered if p.completed else rng.randint(0, 3)
            yield _record(
                "fhir",
                "hmpps-psychology" if p.index % 3 else "fpc-ltd",
                "health_information",
                ["perpetrator-intervention"],
                [self.subject(p, "P1", "perpetrator", ("nhs_number", p.nhs_number))],
                {
                    "health": {
                        "intervention": p.intervention,
                        "engagement": "engaged" if p.completed else "disengaged",
                        "sessions_offered": offered,
                        "sessions_attended": attended,
                        "completed": bool(p.completed),
                        "completed_on": p.ended_on.isoformat() if p.completed else None,
                        "clinician": self.fake.name(),
                        "summary": f"{p.given} attended {attended} of {offered} sessions.",
                    }
                },
            )
        if p.crn:
            crn = ("crn", p.crn)
            start = p.referred_on + timedelta(days=5)
            yield self.rosh(p, start, [crn, pnc])
            for quarter in range(1, 5):
                yield self.rosh(p, add_months(p.index_date, 3 * quarter), [crn])
        for n, days in enumerate(p.reoffences):
            day = p.index_date + timedelta(days=days)
            kind = p.first_disposal if n == 0 else "charge"
            offence = REOFFENCE_CLASSES[(p.index + n) % len(REOFFENCE_CLASSES)]
            yield _record(
                "police",
                "wmp-easi",
                "crime_record",
                ["stalking-triage"],
                [self.subject(p, "P1", "suspect", pnc), self.victim()],
                {
                    "crime": {
                        "occurrence_number": f"20WM/{p.index:06d}/{n + 1}",
                        "offence": {"code": "8L", "offence_class": offence},
                        "reported_at": _at(day).isoformat(),
                        "summary": "Contacted the victim again.",
                    },
                    "disposals": [
                        {
                            "subject_ref": "P1",
                            "kind": kind,
                            "decided_at": _at(day + timedelta(days=2)).isoformat(),
                        }
                    ],
                },
            )

    def rosh(self, p: Person, day: date, ids: list[tuple[str, str | None]]) -> Record:
        return _record(
            "probation",
            "probation-west-midlands",
            "risk_assessment",
            ["compliance-monitoring"],
            [self.subject(p, "P1", "offender", *ids)],
            {
                "probation": {"event": "rosh_change", "pdu": "Birmingham North"},
                "risk": {
                    "tool": "RoSH",
                    "level": self.rng.choice(RISK_LEVELS),
                    "assessed_at": _at(day).isoformat(),
                },
            },
        )


def _record(
    fmt: str,
    sender: str,
    category: str,
    purposes: list[str],
    subjects: list[dict[str, Any]],
    payload: dict[str, Any],
    case_reference: str | None = None,
) -> Record:
    return Record(
        fmt,
        Exchange.model_validate(
            {
                "exchange_id": str(uuid4()),
                "source_partner": sender,
                "submitted_at": datetime.now(UTC).isoformat(),
                "category": category,
                "purposes": purposes,
                "case_reference": case_reference,
                "subjects": subjects,
                "payload": payload,
            }
        ),
    )


def partnership(
    rates: Rates | None = None, start: date = date(2024, 1, 1), seed: int = 20
) -> tuple[Truth, list[Record]]:
    """The ground truth and every partner's records about it, in date order."""
    from faker import Faker

    rates = rates or Rates()
    truth = people(rates, start, seed)
    fake = Faker("en_GB")
    fake.seed_instance(seed + 1)
    writer = _Writer(fake, random.Random(seed + 1), rates)
    records = [r for p in truth.people for r in writer.records(p)]
    return truth, records


def submit(pipeline: Any, records: list[Record]) -> int:
    """Send ``records`` as their partners would: each rendered by its format's adapter
    and submitted through ``pipeline`` (a :class:`gateway.pipeline.flow.Pipeline`);
    returns how many were kept."""
    kept = 0
    for record in records:
        adapter = pipeline.registry.get(record.fmt)
        rendered = adapter.render(record.exchange.model_dump(mode="json"))
        submission = pipeline.submit(
            record.fmt, rendered.body, rendered.media_type, record.exchange.source_partner
        )
        kept += submission.accepted
    return kept
