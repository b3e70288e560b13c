"""Typed model of a policy bundle: the information-sharing agreement as data.

These models are the language. The JSON Schema editors use
(``policies/schema/policy.schema.json``) is generated from them by
``python -m gateway.policy.tools.schema``; see ``docs/policy.md`` for the reference.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from contracts import Category, SubjectRole

#: An id a governance lead types: lower case, digits and dashes.
ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
#: "15 minutes", "2 years": a period in words rather than ISO 8601.
PERIOD_PATTERN = r"^[1-9][0-9]* (minute|hour|day|week|month|year)s?$"
_PERIOD = re.compile(r"^([1-9][0-9]*) (minute|hour|day|week|month|year)s?$")
#: A month and a year as retention periods count them (calendar-free, never short).
_UNIT = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
    "month": timedelta(days=30),
    "year": timedelta(days=365),
}


def parse_period(text: str) -> timedelta:
    """``"15 minutes"`` -> 15 minutes: the one reading of PERIOD_PATTERN's words, for
    obligations, routes and retention alike. ValueError for anything else."""
    found = _PERIOD.match(text.strip())
    if not found:
        raise ValueError(f"{text!r} is not a period like '15 minutes' or '2 years'")
    return int(found.group(1)) * _UNIT[found.group(2)]


ANY = "*"

#: A canonical field path; the schema lists the known ones so editors complete them.
FieldPath = Annotated[str, WithJsonSchema({"type": "string", "x-field-path": True})]


class PolicyModel(BaseModel):
    """Base of the policy language's models (and its test suites'): unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Agreement(PolicyModel):
    """The agreement itself: who signed it, who is accountable, when it is reviewed."""

    id: str = Field(pattern=ID_PATTERN)
    title: str
    version: str
    accountable: str | None = Field(
        default=None, description="The governance lead accountable for the agreement."
    )
    review_by: date | None = Field(default=None, description="When the board reviews it next.")
    safety_net: SafetyNet | None = Field(
        default=None,
        description="Where an immediate record goes when no flow lets anyone receive it: "
        "a 24/7 duty function, under vital interests.",
    )
    retention: Retention | None = Field(
        default=None,
        description="How long the gateway keeps what it received, and its audit trail.",
    )


class Retention(PolicyModel):
    """How long the gateway itself keeps records and the trail of what it did with
    them (recipients' own periods are each flow's ``retain_for``)."""

    exchanges: str | None = Field(
        default=None,
        pattern=PERIOD_PATTERN,
        description="A received record's contents (its envelope and case reference) are "
        "erased this long after it was submitted; the decisions and the audit trail stay.",
    )
    audit_trail: str | None = Field(
        default=None,
        pattern=PERIOD_PATTERN,
        description="Audit entries older than this may be pruned (gateway audit prune), "
        "behind a signed anchor checkpoint. At least as long as ``exchanges``.",
    )

    @model_validator(mode="after")
    def _trail_outlives_records(self) -> Retention:
        shorter = (
            self.exchanges
            and self.audit_trail
            and parse_period(self.audit_trail) < parse_period(self.exchanges)
        )
        if shorter:
            raise ValueError(
                "the audit trail must be kept at least as long as the records it "
                f"accounts for: audit_trail {self.audit_trail} < exchanges {self.exchanges}"
            )
        return self


#: The rule that names the safety net in decisions and the audit trail.
SAFETY_NET = "safety-net"


class SafetyNet(PolicyModel):
    """The agreement's designated fallback for an immediate record (a threat to life)
    that policy lets no named recipient receive: it is never a silent refusal."""

    to: str = Field(description="The party of the 24/7 duty function (a force control room).")
    description: str = ""
    purpose: str = Field(description="The purpose it is shared for, e.g. preventing-harm-to-life.")
    lawful_basis: str = Field(description="Usually vital interests, UK GDPR Art 6(1)(d).")
    special_category_condition: str | None = Field(
        default=None, description="Usually vital interests, UK GDPR Art 9(2)(c)."
    )
    fields: list[FieldPath | FieldRule] = Field(min_length=1)
    obligations: Obligations = Field(default_factory=lambda: Obligations())

    def as_flow(self) -> Flow:
        """The safety net as the permit it acts as (from anyone, for any category)."""
        return Flow(
            id=SAFETY_NET,
            description=self.description
            or "An immediate record no named recipient may receive goes to the agreement's "
            "24/7 duty function under vital interests (the safety net).",
            sender=ANY,
            recipients=[self.to],
            categories=[ANY],
            purposes=[self.purpose],
            lawful_basis=self.lawful_basis,
            special_category_condition=self.special_category_condition,
            fields=self.fields,
            obligations=self.obligations,
        )


class Registration(PolicyModel):
    """What a sender's records mean when they leave something unsaid."""

    purposes: dict[Category, list[str]] = Field(
        default_factory=dict,
        description="Purpose ids per category, for records that declare no purpose.",
    )
    patient_role: SubjectRole | None = Field(
        default=None,
        description="The role of a subject the record calls only 'patient' (a FHIR "
        "Patient without the subject-role extension), e.g. perpetrator for a forensic "
        "service that treats only perpetrators.",
    )


class Party(PolicyModel):
    """A partner organisation (or one of its teams, such as a PDU's SPOC)."""

    id: str = Field(pattern=ID_PATTERN)
    name: str
    kind: str = Field(description="police, nhs-trust, probation-spoc, victim-advocate, ...")
    perpetrator_facing: bool = Field(
        default=False,
        description="Works with the perpetrator: never receives a victim's address or "
        "safe contact (contract mark victim_location).",
    )
    honours_access_marks: bool = Field(
        default=False,
        description="Can restrict a case to named staff, so may receive restricted or "
        "excluded cases (contract mark restricted_access).",
    )
    tags: list[str] = Field(default_factory=list, description="Free labels prohibitions target.")
    areas: list[str] = Field(
        default_factory=list,
        description="Local authority areas the party covers (a PDU's, a force's); a "
        "condition with in_recipient_areas routes by them.",
    )
    pdu: str | None = Field(
        default=None,
        description="The probation delivery unit a SPOC serves, e.g. 'North'; a condition "
        "with is_recipient_pdu routes by it.",
    )
    aliases: list[str] = Field(
        default_factory=list,
        description="Other names records use for the party (a meeting action's owner, "
        "say); matched without regard to case.",
    )
    registration: Registration = Field(
        default_factory=Registration,
        description="Defaults for the records this party sends.",
    )

    def answers_to(self, name: str) -> bool:
        """Whether a record naming ``name`` (an action's owner) means this party."""
        wanted = name.strip().casefold()
        return wanted == self.id or any(wanted == a.casefold() for a in self.aliases)


class Purpose(PolicyModel):
    id: str = Field(pattern=ID_PATTERN)
    description: str
    export_only: bool = Field(
        default=False,
        description="Only the gateway's own exports (gateway evaluation export) decide under "
        "this purpose: a partner's record declaring it is refused, and no registration may "
        "give it as a default, so nothing reaches its recipients record by record.",
    )


class LawfulBasis(PolicyModel):
    """A legal gateway for sharing, e.g. UK GDPR Art 6(1)(e) or DPA 2018 Part 3."""

    id: str = Field(pattern=ID_PATTERN)
    citation: str = Field(description="e.g. 'DPA 2018 Part 3 s31 (law enforcement purposes)'")
    special_category: bool = Field(
        default=False,
        description="This basis is an Art 9 condition (or DPA 2018 s35 / Schedule 1 "
        "condition) that lets special-category data cross.",
    )


class Justification(PolicyModel):
    """A recorded reason for sharing without consent (a MARAC form's annex)."""

    id: str = Field(pattern=ID_PATTERN)
    description: str


class DataCategory(PolicyModel):
    id: str = Field(pattern=ID_PATTERN)
    description: str
    special_category: bool = Field(default=False, description="Health or other UK GDPR Art 9 data.")


class Transform(StrEnum):
    """How a field crosses: as is, changed, or not at all."""

    KEEP = "keep"
    DROP = "drop"
    REDACT = "redact"
    MASK = "mask"
    AGE_BAND = "age-band"
    POSTCODE_DISTRICT = "postcode-district"
    TRUNCATE = "truncate"
    PSEUDONYMISE = "pseudonymise"


class FieldRule(PolicyModel):
    """A field a flow shares with a transform other than plain keep."""

    path: FieldPath = Field(description="Canonical field path, e.g. subjects[].date_of_birth")
    transform: Transform = Transform.KEEP
    max_length: int | None = Field(default=None, ge=1, description="For truncate.")
    keep_last: int = Field(default=0, ge=0, description="For mask: characters left visible.")

    @model_validator(mode="after")
    def _truncate_needs_length(self) -> FieldRule:
        if self.transform is Transform.TRUNCATE and self.max_length is None:
            raise ValueError("truncate needs max_length")
        return self


OPERATORS = (
    "equals",
    "in_",
    "not_in",
    "at_least",
    "present",
    "in_recipient_areas",
    "is_recipient_pdu",
)
#: Operators that route a record by a recipient's place: a record with no value
#: there (a suspect of no fixed abode) is flagged unrouted, not silently refused.
ROUTING_OPERATORS = frozenset({"in_recipient_areas", "is_recipient_pdu"})


class Condition(PolicyModel):
    """A test on the record; a flow applies only when all its conditions hold.

    On a ``subjects[]`` field the condition holds when any subject (of ``roles``,
    if given) passes it.
    """

    field: FieldPath = Field(description="Canonical field path, e.g. payload.risk.level")
    roles: list[SubjectRole] = Field(
        default_factory=list, description="Only subjects in these roles count."
    )
    equals: str | int | bool | None = None
    in_: list[str | int] | None = Field(default=None, alias="in")
    not_in: list[str | int] | None = None
    at_least: str | int | None = Field(
        default=None, description="Ordered values: risk levels, MAPPA levels, numbers."
    )
    present: bool | None = None
    in_recipient_areas: Literal[True] | None = Field(
        default=None, description="The value is one of the recipient party's areas."
    )
    is_recipient_pdu: Literal[True] | None = Field(
        default=None, description="The value is the recipient party's probation PDU."
    )

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        tests = [name for name in OPERATORS if getattr(self, name) is not None]
        if len(tests) != 1:
            raise ValueError(
                "a condition needs exactly one of equals, in, not_in, at_least, present, "
                "in_recipient_areas, is_recipient_pdu"
            )
        return self

    @property
    def operator(self) -> str:
        for name in OPERATORS:
            if getattr(self, name) is not None:
                return name.rstrip("_")
        raise AssertionError("validated to have one operator")

    @property
    def operand(self) -> Any:
        return getattr(self, self.operator if self.operator != "in" else "in_")


class Consent(PolicyModel):
    """Consent as a condition, and the justifications that allow sharing without it."""

    field: FieldPath = Field(
        default="payload.referral.consent.status",
        description="Where the record says whether consent was given.",
    )
    given: list[str] = Field(default_factory=lambda: ["given"], description="Values meaning yes.")
    justification_field: FieldPath = Field(
        default="payload.referral.consent.justification",
        description="Where the record names the justification for sharing without consent.",
    )
    without_consent: list[str] = Field(
        default_factory=list,
        description="Justification ids under which the flow may share without consent.",
    )


class Obligations(PolicyModel):
    """What the recipient (or the gateway) must do with what it receives."""

    acknowledge_within: str | None = Field(default=None, pattern=PERIOD_PATTERN)
    retain_for: str | None = Field(default=None, pattern=PERIOD_PATTERN)
    notify_dpo: bool = Field(default=False, description="Tell the data-protection officer.")

    def as_terms(self) -> tuple[str, ...]:
        terms = []
        if self.acknowledge_within:
            terms.append(f"acknowledge within {self.acknowledge_within}")
        if self.retain_for:
            terms.append(f"retain for {self.retain_for}")
        if self.notify_dpo:
            terms.append("notify the data protection officer")
        return tuple(terms)


class OwnedItems(PolicyModel):
    """Items of a list that each name their owner, such as a meeting's actions."""

    items: FieldPath = Field(description="The list, e.g. payload.meeting.actions")
    owner: str = Field(default="owner", description="The item's field naming its owner.")


class Flow(PolicyModel):
    """One rule of the agreement: a sender may (or may never) share with recipients."""

    id: str = Field(pattern=ID_PATTERN)
    description: str = ""
    effect: Literal["permit", "deny"] = "permit"
    sender: str | list[str] = Field(
        alias="from", description="A party id or a list of them, or * for any party."
    )
    recipients: list[str] = Field(alias="to", min_length=1, description="Party ids, or *.")
    categories: list[Category | Literal["*"]] = Field(min_length=1)
    purposes: list[str] = Field(
        default_factory=list, description="Purpose ids; a deny with none applies to every purpose."
    )
    lawful_basis: str | None = Field(default=None, description="Required on a permit.")
    special_category_condition: str | None = Field(
        default=None,
        description="Lawful basis id of the Art 9 condition; required when the flow "
        "shares special-category data.",
    )
    when: list[Condition] = Field(default_factory=list)
    consent: Consent | None = None
    valid_from: date | None = None
    valid_until: date | None = None
    fields: list[FieldPath | FieldRule] = Field(
        default_factory=list, description="What a permit shares: paths, or path + transform."
    )
    obligations: Obligations = Field(default_factory=Obligations)
    to_owners: OwnedItems | None = Field(
        default=None,
        description="Deliver each item to the party it names as owner: the flow applies "
        "to a recipient only when an item names it, and its copy holds only those items.",
    )

    @model_validator(mode="after")
    def _permit_is_complete(self) -> Flow:
        if self.effect == "permit":
            missing = [
                name
                for name, value in (
                    ("lawful_basis", self.lawful_basis),
                    ("purposes", self.purposes),
                    ("fields", self.fields),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"a permit flow needs {', '.join(missing)}")
        elif self.fields:
            raise ValueError("a deny flow shares nothing, so it has no fields")
        return self

    @property
    def senders(self) -> list[str]:
        return [self.sender] if isinstance(self.sender, str) else list(self.sender)

    def field_rules(self) -> list[FieldRule]:
        return [FieldRule(path=f) if isinstance(f, str) else f for f in self.fields]


class Prohibition(PolicyModel):
    """Fields that never go to some recipients, whatever a flow says: deny beats permit."""

    id: str = Field(pattern=ID_PATTERN)
    description: str
    fields: list[FieldPath] = Field(min_length=1)
    to: list[str] = Field(default_factory=list, description="Party ids, or *.")
    to_tags: list[str] = Field(default_factory=list, description="Parties with any of these tags.")
    subject_roles: list[SubjectRole] = Field(
        default_factory=list, description="Only for subjects in these roles (subjects[] fields)."
    )

    @model_validator(mode="after")
    def _has_target(self) -> Prohibition:
        if not self.to and not self.to_tags:
            raise ValueError("a prohibition needs to or to_tags")
        return self


class PolicyDocument(PolicyModel):
    """One YAML file; a bundle is every document in a directory merged."""

    agreement: Agreement | None = None
    parties: list[Party] = Field(default_factory=list)
    purposes: list[Purpose] = Field(default_factory=list)
    lawful_bases: list[LawfulBasis] = Field(default_factory=list)
    justifications: list[Justification] = Field(default_factory=list)
    data_categories: list[DataCategory] = Field(default_factory=list)
    field_catalogue: dict[str, str] = Field(
        default_factory=dict, description="Canonical field path -> data category id."
    )
    flows: list[Flow] = Field(default_factory=list)
    prohibitions: list[Prohibition] = Field(default_factory=list)
