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

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Final, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from contracts.marks import Mark, mark

CONTRACT_VERSION: Final = "1"

#: Limits on what one record may carry, part of the contract since issue 15: a
#: text field (a summary, a rationale, notes) holds at most MAX_TEXT characters,
#: a person's name MAX_NAME on one line, an exchange MAX_SUBJECTS subjects.
MAX_TEXT: Final = 10_000
MAX_NAME: Final = 200
MAX_SUBJECTS: Final = 50
#: Purposes one record may be shared for at once.
MAX_PURPOSES: Final = 8


#: A full Stalking Protection Order with a fixed end lasts at least this long.
_SPO_MINIMUM_YEARS: Final = 2
_ONE_DAY: Final = timedelta(days=1)


def _in_order(first: date | None, then: date | None, problem: str) -> None:
    """Refuse a record whose end comes before its start: it cannot be true."""
    if first is not None and then is not None and then < first:
        raise ValueError(problem)


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _one_line(value: str) -> str:
    if any(c in value for c in "\t\n\r"):
        raise ValueError("a name is one line: no tab or line break")
    return value


Text = Annotated[str, Field(max_length=MAX_TEXT)]
#: A purpose id of the agreement, e.g. 'stalking-risk-management'.
PurposeId = Annotated[str, Field(min_length=1, max_length=64)]
Name = Annotated[str, Field(max_length=MAX_NAME), AfterValidator(_one_line)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, str_strip_whitespace=True)


class IdentifierSystem(StrEnum):
    """Person identifiers a partnership uses (see DOMAIN.md, Identifiers)."""

    NHS_NUMBER = "nhs_number"
    PNC_ID = "pnc_id"
    CRN = "crn"
    NOMS_NUMBER = "noms_number"
    LOCAL = "local"


class Identifier(_Strict):
    system: IdentifierSystem
    value: str = Field(min_length=1, max_length=64)
    issuer: Text | None = Field(
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
    given: Name | None = None
    family: Name | None = None


class Address(_Strict):
    lines: list[Text] = Field(default_factory=list)
    town: Text | None = None
    postcode: Text | None = None
    local_authority: Text | None = Field(
        default=None, description="Local authority area, e.g. 'Warrington'; drives routing."
    )
    no_fixed_abode: bool | None = Field(
        default=None,
        description="The person has no fixed abode: a record routed by where they live "
        "cannot be routed, and is flagged unrouted rather than silently refused.",
    )


class AccessLevel(StrEnum):
    """Probation's access marks on a case."""

    RESTRICTED = "restricted"
    EXCLUDED = "excluded"


class AccessRestriction(_Strict):
    """A restricted or excluded case, carried end to end so policy can honour it.

    ``restricted``: only ``named_staff`` may see the case. ``excluded``: the
    ``named_staff`` listed may not see it.
    """

    level: AccessLevel
    named_staff: list[Text] = Field(default_factory=list)
    set_by: Text | None = Field(default=None, description="The partner that set the mark.")
    reason: Text | None = Field(default=None, json_schema_extra=mark(Mark.FREE_TEXT))


class Subject(_Strict):
    """A person the exchange is about."""

    ref: str = Field(min_length=1, max_length=32, description="Reference within this exchange.")
    role: SubjectRole
    identifiers: list[Identifier] = Field(default_factory=list)
    name: PersonName | None = None
    date_of_birth: date | None = None
    gender: Text | None = None
    address: Address | None = Field(
        default=None,
        description="Where the person lives; never perpetrator-facing for anyone but "
        "the perpetrator (a child's or witness's address is often the victim's).",
        json_schema_extra=mark(Mark.VICTIM_LOCATION),
    )
    safe_contact: Text | None = Field(
        default=None,
        description="Safe contact details (a victim's); never perpetrator-facing for "
        "anyone but the perpetrator.",
        json_schema_extra=mark(Mark.VICTIM_LOCATION),
    )
    access: AccessRestriction | None = Field(
        default=None,
        description="Restricted/excluded case mark from probation.",
        json_schema_extra=mark(Mark.RESTRICTED_ACCESS),
    )
    probation_pdu: Text | None = Field(
        default=None,
        description="The probation delivery unit managing this person, as the probation "
        "case record (nDelius) says, where the sender knows it; routes to that PDU's SPOC "
        "even when the person lives elsewhere or has no fixed abode.",
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
    CUSTODY_EVENT = "custody_event"
    DISPOSAL = "disposal"
    CIVIL_ORDER = "civil_order"
    OFFENDER_MANAGEMENT = "offender_management"


class Urgency(StrEnum):
    ROUTINE = "routine"
    URGENT = "urgent"
    IMMEDIATE = "immediate"


class OffenceClass(StrEnum):
    """The offence types the stalking screening covers (DOMAIN.md, police records)."""

    STALKING_S2A = "stalking_s2a"
    STALKING_S4A = "stalking_s4a"
    HARASSMENT_S2 = "harassment_s2"
    HARASSMENT_S4 = "harassment_s4"
    RACIALLY_AGGRAVATED_HARASSMENT = "racially_aggravated_harassment"
    BREACH_NON_MOLESTATION_ORDER = "breach_non_molestation_order"
    BREACH_COMMUNITY_RESOLUTION = "breach_community_resolution"
    BREACH_SPO = "breach_spo"
    OTHER = "other"


class Offence(_Strict):
    code: Text = Field(min_length=1, description="Home Office or local offence code.")
    legislation: Text | None = Field(
        default=None, description="e.g. 'Protection from Harassment Act 1997 s2A'."
    )
    description: Text | None = None
    offence_class: OffenceClass | None = Field(
        default=None, description="Classification a policy can test, e.g. stalking_s4a."
    )


class CrimeSection(_Strict):
    """A police crime or occurrence record."""

    occurrence_number: Text = Field(min_length=1)
    offence: Offence
    reported_at: datetime | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None
    status: Text | None = Field(default=None, description="e.g. 'under investigation'.")
    summary: Text | None = Field(
        default=None, description="Free-text circumstances.", json_schema_extra=mark(Mark.FREE_TEXT)
    )
    officer_in_case: Text | None = None

    @model_validator(mode="after")
    def _period_runs_forward(self) -> CrimeSection:
        _in_order(self.occurred_from, self.occurred_to, "occurred_to is before occurred_from")
        return self


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
    rationale: Text | None = Field(default=None, json_schema_extra=mark(Mark.FREE_TEXT))


class ComplianceStatus(StrEnum):
    COMPLYING = "complying"
    PARTIAL = "partial"
    BREACHED = "breached"
    NOT_YET_DUE = "not_yet_due"
    UNKNOWN = "unknown"


class ConditionCompliance(_Strict):
    """One condition (licence, caution, civil or community order) and how it is kept."""

    text: Text = Field(
        min_length=1,
        description="The condition as imposed.",
        json_schema_extra=mark(Mark.FREE_TEXT),
    )
    kind: Text | None = Field(
        default=None, description="e.g. 'non-contact', 'exclusion zone', 'residence'."
    )
    compliance: ComplianceStatus = ComplianceStatus.UNKNOWN
    noted_at: datetime | None = None
    detail: Text | None = Field(default=None, json_schema_extra=mark(Mark.FREE_TEXT))


class CustodyOutcome(StrEnum):
    BAIL = "bail"
    RELEASED_UNDER_INVESTIGATION = "released_under_investigation"
    CHARGED = "charged"
    REMANDED = "remanded"
    NO_FURTHER_ACTION = "no_further_action"
    STILL_IN_CUSTODY = "still_in_custody"


class ArrestEvent(_Strict):
    """An arrest and the custody episode that follows it."""

    subject_ref: Text = Field(min_length=1, description="Which subject was arrested.")
    arrested_at: datetime
    reason: Text | None = Field(default=None, json_schema_extra=mark(Mark.FREE_TEXT))
    custody_number: Text | None = None
    custody_suite: Text | None = None
    released_at: datetime | None = None
    outcome: CustodyOutcome | None = None
    bail_conditions: list[Text] = Field(
        default_factory=list, json_schema_extra=mark(Mark.FREE_TEXT)
    )
    bail_return_on: date | None = None

    @model_validator(mode="after")
    def _released_after_arrest(self) -> ArrestEvent:
        _in_order(self.arrested_at, self.released_at, "released_at is before arrested_at")
        return self


class DisposalKind(StrEnum):
    CHARGE = "charge"
    CONDITIONAL_CAUTION = "conditional_caution"
    SIMPLE_CAUTION = "simple_caution"
    COMMUNITY_RESOLUTION = "community_resolution"
    OUT_OF_COURT_OTHER = "out_of_court_other"
    NO_FURTHER_ACTION = "no_further_action"


class Disposal(_Strict):
    subject_ref: Text = Field(min_length=1)
    kind: DisposalKind
    decided_at: datetime
    offence_code: Text | None = None
    court: Text | None = None
    first_hearing_on: date | None = None
    conditions: list[ConditionCompliance] = Field(default_factory=list)


class CivilOrderKind(StrEnum):
    STALKING_PROTECTION_ORDER = "stalking_protection_order"
    INTERIM_STALKING_PROTECTION_ORDER = "interim_stalking_protection_order"
    NON_MOLESTATION_ORDER = "non_molestation_order"
    RESTRAINING_ORDER = "restraining_order"


class CivilOrderStage(StrEnum):
    APPLIED = "applied"
    GRANTED = "granted"
    REFUSED = "refused"
    VARIED = "varied"
    DISCHARGED = "discharged"
    BREACHED = "breached"


class CivilOrder(_Strict):
    """An SPO (or other protective order): its application, grant and conditions."""

    subject_ref: Text = Field(min_length=1, description="The person the order is against.")
    kind: CivilOrderKind
    stage: CivilOrderStage
    reference: Text | None = None
    court: Text | None = None
    applied_on: date | None = None
    decided_on: date | None = None
    expires_on: date | None = None
    prohibitions: list[ConditionCompliance] = Field(default_factory=list)
    requirements: list[ConditionCompliance] = Field(default_factory=list)

    @model_validator(mode="after")
    def _lawful_period(self) -> CivilOrder:
        """An order cannot end before it is made, and a full Stalking Protection Order
        with a fixed end runs for at least two years (Stalking Protection Act 2019)."""
        _in_order(self.decided_on, self.expires_on, "expires_on is before decided_on")
        if (
            self.kind is CivilOrderKind.STALKING_PROTECTION_ORDER
            and self.decided_on is not None
            and self.expires_on is not None
            and self.expires_on < _years_after(self.decided_on, _SPO_MINIMUM_YEARS) - _ONE_DAY
        ):
            raise ValueError(
                "a Stalking Protection Order has effect for at least "
                f"{_SPO_MINIMUM_YEARS} years (Stalking Protection Act 2019); "
                f"decided {self.decided_on}, expires {self.expires_on}"
            )
        return self


class ConsentStatus(StrEnum):
    GIVEN = "given"
    REFUSED = "refused"
    NOT_SOUGHT = "not_sought"


class ConsentRecord(_Strict):
    """Consent to referral; without it, the justification for sharing anyway."""

    status: ConsentStatus
    recorded_at: datetime | None = None
    justification: Text | None = Field(
        json_schema_extra=mark(Mark.FREE_TEXT),
        default=None,
        description="Why information is shared without consent.",
    )

    @model_validator(mode="after")
    def _justified(self) -> ConsentRecord:
        if self.status is not ConsentStatus.GIVEN and not self.justification:
            raise ValueError("sharing without consent needs a justification")
        return self


class Engagement(StrEnum):
    ENGAGED = "engaged"
    PARTIALLY_ENGAGED = "partially_engaged"
    DISENGAGED = "disengaged"
    DECLINED = "declined"
    NOT_YET_OFFERED = "not_yet_offered"


class CodedEntry(_Strict):
    """A coded clinical fact (a SNOMED CT code where the trust sends one)."""

    system: Text | None = None
    code: Text | None = None
    display: Text = Field(min_length=1)
    value: Text | None = Field(
        default=None,
        description="An observation's value, as text.",
        json_schema_extra=mark(Mark.FREE_TEXT),
    )
    recorded_at: datetime | None = None


class HealthSection(_Strict):
    """Engagement with a health intervention: special category data (UK GDPR Art 9).

    It crosses to police only where the agreement says so, and only the minimum.
    """

    intervention: Text | None = Field(default=None, description="e.g. 'fACT (4-6 sessions)'.")
    engagement: Engagement | None = None
    sessions_offered: int | None = Field(default=None, ge=0)
    sessions_attended: int | None = Field(default=None, ge=0)
    completed: bool | None = None
    completed_on: date | None = None
    heightened_risk_indicators: list[CodedEntry] = Field(default_factory=list)
    conditions: list[CodedEntry] = Field(default_factory=list)
    observations: list[CodedEntry] = Field(
        default_factory=list, description="Other clinical observations the trust chose to share."
    )
    consent: ConsentRecord | None = Field(
        default=None, description="The patient's consent to share, as the trust recorded it."
    )
    clinician: Text | None = None
    organisation: Text | None = Field(default=None, description="ODS code or trust name.")
    summary: Text | None = Field(default=None, json_schema_extra=mark(Mark.FREE_TEXT))


class AlertKind(StrEnum):
    """What an urgent alert warns of (DOMAIN.md, urgent alerts)."""

    SUICIDAL_IDEATION = "suicidal_ideation"
    THREAT_TO_KILL = "threat_to_kill"
    WEAPONS_ACCESS = "weapons_access"
    SPO_BREACH = "spo_breach"
    #: A breach of another order: a non-molestation, restraining or bail order.
    ORDER_BREACH = "order_breach"
    IMMINENT_CONTACT = "imminent_contact"
    #: Recall to prison of a person on licence.
    RECALL = "recall"


class AlertSection(_Strict):
    """An urgent alert that must reach a named on-duty recipient within minutes."""

    kind: AlertKind = Field(description="The main indicator, the one routing acts on.")
    indicators: list[AlertKind] = Field(
        default_factory=list, description="Every other indicator the sender saw."
    )
    detail: Text | None = Field(default=None, json_schema_extra=mark(Mark.FREE_TEXT))
    raised_at: datetime
    raised_by: Text | None = None
    valid_until: datetime | None = None


class ProbationEvent(StrEnum):
    CASE_ALLOCATED = "case_allocated"
    LICENCE_CONDITIONS = "licence_conditions"
    COMPLIANCE = "compliance"
    ROSH_CHANGE = "rosh_change"
    MAPPA_CHANGE = "mappa_change"
    RECALL = "recall"
    CHANGE_OF_ADDRESS = "change_of_address"
    CHANGE_OF_SUPERVISING_OFFICER = "change_of_supervising_officer"
    ACCESS_CHANGE = "access_change"


class Recall(_Strict):
    recalled_on: date
    recall_type: Literal["fixed_term", "standard"] | None = None
    reason: Text | None = Field(default=None, json_schema_extra=mark(Mark.FREE_TEXT))


class ProbationSection(_Strict):
    """A probation SPOC notification; CRN and NOMS number travel as subject identifiers."""

    event: ProbationEvent
    notification_id: Text | None = Field(default=None, description="Probation's own message id.")
    pdu: Text | None = Field(default=None, description="Probation delivery unit, e.g. 'North'.")
    supervising_officer: Text | None = None
    previous_supervising_officer: Text | None = None
    sentence: Text | None = Field(default=None, description="e.g. 'Licence (determinate)'.")
    licence_start: date | None = None
    licence_end: date | None = None
    licence_conditions: list[ConditionCompliance] = Field(default_factory=list)
    recall: Recall | None = None
    effective_from: date | None = None
    notes: Text | None = Field(default=None, json_schema_extra=mark(Mark.FREE_TEXT))

    @model_validator(mode="after")
    def _licence_runs_forward(self) -> ProbationSection:
        _in_order(self.licence_start, self.licence_end, "licence_end is before licence_start")
        return self


class MappaSection(_Strict):
    """MAPPA category (probation codes 1-4) and management level (1-3)."""

    category: int = Field(ge=1, le=4)
    level: int = Field(ge=1, le=3)
    previous_category: int | None = Field(default=None, ge=1, le=4)
    previous_level: int | None = Field(default=None, ge=1, le=3)
    effective_from: date | None = None
    lead_agency: Text | None = None
    meeting_on: date | None = None
    meeting_outcome: Text | None = Field(default=None, json_schema_extra=mark(Mark.FREE_TEXT))
    next_review_on: date | None = None

    @model_validator(mode="after")
    def _level_fits_category(self) -> MappaSection:
        """MAPPA guidance: category 3 (other dangerous offenders) is managed at level 2
        or 3, never 1; a record saying otherwise is wrong, not a policy matter."""
        for category, level, which in (
            (self.category, self.level, ""),
            (self.previous_category, self.previous_level, "previous "),
        ):
            if category == 3 and level == 1:
                raise ValueError(f"{which}MAPPA category 3 is managed at level 2 or 3, not level 1")
        return self


class DashAnswer(StrEnum):
    YES = "yes"
    NO = "no"
    NOT_KNOWN = "not_known"


#: DASH has 24 questions; 14 or more "yes" ticks is visible high risk.
DASH_QUESTIONS = 24
DASH_HIGH_RISK_TICKS = 14


class DashChecklist(_Strict):
    answers: list[DashAnswer] = Field(
        min_length=DASH_QUESTIONS,
        max_length=DASH_QUESTIONS,
        description="Answers to questions 1-24, in order.",
    )
    ticks: int = Field(ge=0, le=DASH_QUESTIONS)
    completed_at: datetime | None = None

    @model_validator(mode="after")
    def _ticks_match(self) -> DashChecklist:
        yes = sum(1 for a in self.answers if a is DashAnswer.YES)
        if yes != self.ticks:
            raise ValueError(f"ticks is {self.ticks} but {yes} answers are 'yes'")
        return self


class ReferralGround(StrEnum):
    VISIBLE_HIGH_RISK = "visible_high_risk"
    PROFESSIONAL_JUDGEMENT = "professional_judgement"
    ESCALATION = "escalation"


class ReferralOutcome(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class ReferralSection(_Strict):
    """A referral into a MARAC, the unit or a triage clinic, and its outcome."""

    referral_id: Text | None = None
    referred_to: Text = Field(min_length=1, description="e.g. 'marac', 'hru', 'triage-clinic'.")
    referred_at: datetime
    referring_agency: Text = Field(min_length=1)
    referrer: Text | None = None
    grounds: list[ReferralGround] = Field(default_factory=list)
    dash: DashChecklist | None = None
    high_risk: bool | None = Field(
        default=None, description="DASH ticks >= 14, professional judgement or escalation."
    )
    children_in_household: int | None = Field(default=None, ge=0)
    consent: ConsentRecord | None = None
    reason: Text | None = Field(default=None, json_schema_extra=mark(Mark.FREE_TEXT))
    outcome: ReferralOutcome | None = None
    intervention: Text | None = None


class MeetingForum(StrEnum):
    MARAC = "marac"
    MAPPA = "mappa"
    TRIAGE_CLINIC = "triage_clinic"
    HRU = "hru"


class AgendaItem(_Strict):
    case_reference: Text = Field(min_length=1)
    position: int | None = Field(default=None, ge=1)
    referring_agency: Text | None = None
    repeat: bool | None = Field(default=None, description="A repeat referral within 12 months.")


class MeetingAction(_Strict):
    action_id: Text = Field(min_length=1)
    case_reference: Text | None = None
    owner: Text = Field(
        min_length=1,
        description="The agency that owns the action: its party id in the agreement, or a "
        "name the agreement lists for that party; the action is delivered to it.",
    )
    description: Text = Field(min_length=1, json_schema_extra=mark(Mark.FREE_TEXT))
    due_on: date | None = None
    status: Literal["open", "done", "cancelled"] = "open"


class MeetingSection(_Strict):
    """A meeting feed: the referral list or agenda, the actions, the outcomes."""

    forum: MeetingForum
    meeting_id: Text = Field(min_length=1)
    held_on: date
    area: Text | None = Field(default=None, description="The MARAC or MAPPA area, e.g. 'Halton'.")
    agenda: list[AgendaItem] = Field(default_factory=list)
    actions: list[MeetingAction] = Field(default_factory=list)
    outcomes: list[Text] = Field(default_factory=list, json_schema_extra=mark(Mark.FREE_TEXT))


class Payload(_Strict):
    """Typed payload sections; an exchange fills the ones its category needs."""

    crime: CrimeSection | None = None
    risk: RiskSection | None = None
    arrests: list[ArrestEvent] = Field(default_factory=list)
    disposals: list[Disposal] = Field(default_factory=list)
    orders: list[CivilOrder] = Field(default_factory=list)
    health: HealthSection | None = Field(
        default=None, json_schema_extra=mark(Mark.SPECIAL_CATEGORY)
    )
    alert: AlertSection | None = None
    probation: ProbationSection | None = None
    mappa: MappaSection | None = None
    referral: ReferralSection | None = None
    meeting: MeetingSection | None = None


class Exchange(_Strict):
    """The canonical envelope every partner record becomes."""

    contract_version: Literal["1"] = CONTRACT_VERSION
    exchange_id: UUID
    source_partner: str = Field(min_length=1, max_length=64)
    submitted_at: datetime
    category: Category
    purposes: list[PurposeId] = Field(
        default_factory=list,
        max_length=MAX_PURPOSES,
        description="Every purpose the record is shared for, most important first; each "
        "recipient's decision names the one it was permitted under. Empty: the sender's "
        "registration in the agreement gives the defaults for the category.",
    )
    purpose: PurposeId | None = Field(
        default=None,
        description="The first of ``purposes`` (a sender may give just this one).",
    )
    urgency: Urgency = Urgency.ROUTINE
    case_reference: Text | None = Field(
        default=None, description="The partnership's case id (MARAC or unit case), if any."
    )
    subjects: list[Subject] = Field(min_length=1, max_length=MAX_SUBJECTS)
    payload: Payload

    @model_validator(mode="after")
    def _one_list_of_purposes(self) -> Exchange:
        """``purpose`` and ``purposes`` are one list: the single form joins it first."""
        if self.purpose is not None and self.purpose not in self.purposes:
            self.purposes.insert(0, self.purpose)
        if len(set(self.purposes)) != len(self.purposes):
            raise ValueError("a purpose is declared twice")
        if len(self.purposes) > MAX_PURPOSES:
            raise ValueError(f"at most {MAX_PURPOSES} purposes")
        self.purpose = self.purposes[0] if self.purposes else None
        return self

    def declare_purposes(self, purposes: list[str]) -> None:
        """Set the purposes (the sender's registration defaults), keeping both forms in step."""
        self.purposes = list(purposes)
        self.purpose = self.purposes[0] if self.purposes else None

    @model_validator(mode="after")
    def _events_name_a_subject(self) -> Exchange:
        """An arrest, disposal or order is about one of the record's subjects."""
        refs = {s.ref for s in self.subjects}
        named = [
            *(("arrests", i, e.subject_ref) for i, e in enumerate(self.payload.arrests)),
            *(("disposals", i, e.subject_ref) for i, e in enumerate(self.payload.disposals)),
            *(("orders", i, e.subject_ref) for i, e in enumerate(self.payload.orders)),
        ]
        for section, i, ref in named:
            if ref not in refs:
                raise ValueError(
                    f"payload.{section}[{i}].subject_ref {ref!r} is not the ref of a "
                    f"subject of this record ({', '.join(sorted(refs))})"
                )
        return self

    @field_validator("subjects")
    @classmethod
    def _unique_refs(cls, subjects: list[Subject]) -> list[Subject]:
        refs = [s.ref for s in subjects]
        if len(refs) != len(set(refs)):
            raise ValueError("subject refs must be unique within an exchange")
        return subjects
