"""The field catalogue: every field path of the canonical record, in words.

A governance lead writes policies in field paths (``payload.crime.summary``);
this page says what each one means, what it holds, which section it sits in
and whether it is special category (UK GDPR Art 9) or free text, without
reading ``contracts/v1.py``. ``docs/fields.md`` is generated from the contract
(``gateway policy catalogue --output docs/fields.md``) and a test fails when it
is stale.

Free text is prose a person typed: it may hold health details whatever its
section, so a policy should treat it as possibly special category. The
contract declares it with its ``free_text`` mark.
"""

from __future__ import annotations

import datetime as dt
import inspect
import types
import typing
import uuid
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from annotated_types import MaxLen
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from contracts import MARKS_KEY, Exchange, Mark
from gateway.policy.bundle import PolicyBundle

DEFAULT_OUTPUT = Path("docs/fields.md")

#: Meanings for fields the contract leaves undescribed, keyed ``Model.field``. A
#: description on the field (``Field(description=...)``) takes precedence, so an
#: entry here can go once the contract says it itself.
GLOSSARY: dict[str, str] = {
    "Exchange.contract_version": "The contract version the record is written in.",
    "Exchange.exchange_id": "The gateway's id for this exchange.",
    "Exchange.source_partner": "The party that sent the record.",
    "Exchange.submitted_at": "When the gateway received the record.",
    "Exchange.urgency": "How soon the record must reach its recipients.",
    "Exchange.subjects": "The people the record is about.",
    "Exchange.payload": "What the record says, by section.",
    "Subject.role": "The person's part in the case (suspect, victim, child ...).",
    "Subject.identifiers": "The person's identifiers (NHS number, PNC id, CRN ...).",
    "Subject.name": "The person's name.",
    "Subject.date_of_birth": "The person's date of birth.",
    "Subject.gender": "The person's gender, as the sender recorded it.",
    "Identifier.system": "Which kind of identifier this is.",
    "Identifier.value": "The identifier itself.",
    "PersonName.given": "Given name(s).",
    "PersonName.family": "Family name.",
    "Address.lines": "Street address lines.",
    "Address.town": "Town or city.",
    "Address.postcode": "Postcode.",
    "AccessRestriction.level": "Restricted (only the named staff may see the case) or excluded.",
    "AccessRestriction.named_staff": "The staff the mark names.",
    "AccessRestriction.reason": "Why the mark was set.",
    "Payload.crime": "A police crime or occurrence record.",
    "Payload.risk": "A risk assessment (DASH, SASH, RoSH ...).",
    "Payload.arrests": "Arrests and the custody episodes that follow them.",
    "Payload.disposals": "Charges and out-of-court disposals.",
    "Payload.orders": "Protective orders: SPOs, non-molestation and restraining orders.",
    "Payload.health": "Engagement with a health intervention: special category data.",
    "Payload.alert": "An urgent alert.",
    "Payload.probation": "A probation notification.",
    "Payload.mappa": "MAPPA category and management level.",
    "Payload.referral": "A referral (MARAC, the unit, a triage clinic) and its outcome.",
    "Payload.meeting": "A MARAC, MAPPA or unit meeting feed.",
    "CrimeSection.occurrence_number": "The police occurrence or crime number.",
    "CrimeSection.offence": "The offence recorded.",
    "CrimeSection.reported_at": "When the crime was reported.",
    "CrimeSection.occurred_from": "Start of the period the offending covers.",
    "CrimeSection.occurred_to": "End of the period the offending covers.",
    "CrimeSection.officer_in_case": "The investigating officer.",
    "Offence.description": "The offence's title, e.g. 'Stalking'.",
    "RiskSection.tool": "The assessment tool used.",
    "RiskSection.level": "The assessed level of risk.",
    "RiskSection.score": "The tool's score, where it gives one.",
    "RiskSection.assessed_at": "When the assessment was made.",
    "RiskSection.rationale": "The assessor's reasons, in their words.",
    "ArrestEvent.arrested_at": "When the arrest was made.",
    "ArrestEvent.reason": "Why the person was arrested.",
    "ArrestEvent.custody_number": "The custody record number.",
    "ArrestEvent.custody_suite": "Where the person was held.",
    "ArrestEvent.released_at": "When the person left custody.",
    "ArrestEvent.outcome": "How the custody episode ended.",
    "ArrestEvent.bail_conditions": "Conditions of bail, as imposed.",
    "ArrestEvent.bail_return_on": "The date to answer bail.",
    "Disposal.subject_ref": "Which subject the disposal is for.",
    "Disposal.kind": "Charge, caution, community resolution or no further action.",
    "Disposal.decided_at": "When the disposal was decided.",
    "Disposal.offence_code": "The offence the disposal is for.",
    "Disposal.court": "The court, for a charge.",
    "Disposal.first_hearing_on": "The first court hearing, for a charge.",
    "Disposal.conditions": "Conditions attached (a conditional caution's, for example).",
    "ConditionCompliance.compliance": "Whether the condition is being kept.",
    "ConditionCompliance.noted_at": "When compliance was last noted.",
    "ConditionCompliance.detail": "What was seen or reported about compliance.",
    "CivilOrder.kind": "Which kind of protective order.",
    "CivilOrder.stage": "Where the order stands: applied, granted, breached ...",
    "CivilOrder.reference": "The court's or police's reference for the order.",
    "CivilOrder.court": "The court that heard the application.",
    "CivilOrder.applied_on": "When the order was applied for.",
    "CivilOrder.decided_on": "When the court decided.",
    "CivilOrder.expires_on": "When the order ends.",
    "CivilOrder.prohibitions": "What the order forbids.",
    "CivilOrder.requirements": "What the order requires.",
    "HealthSection.engagement": "How the person engaged with the intervention.",
    "HealthSection.sessions_offered": "Sessions offered.",
    "HealthSection.sessions_attended": "Sessions attended.",
    "HealthSection.completed": "Whether the intervention was completed.",
    "HealthSection.completed_on": "When it was completed.",
    "HealthSection.heightened_risk_indicators": "Clinical indicators of heightened risk.",
    "HealthSection.conditions": "Diagnosed conditions.",
    "HealthSection.clinician": "The responsible clinician.",
    "HealthSection.summary": "The clinician's summary, in their words.",
    "CodedEntry.system": "The code system, e.g. SNOMED CT.",
    "CodedEntry.code": "The code.",
    "CodedEntry.display": "What the code means, in words.",
    "CodedEntry.recorded_at": "When it was recorded.",
    "ConsentRecord.status": "Given, refused or not sought.",
    "ConsentRecord.recorded_at": "When consent was recorded.",
    "AlertSection.kind": "What the alert is about.",
    "AlertSection.detail": "What was seen or said, in the sender's words.",
    "AlertSection.raised_at": "When the alert was raised.",
    "AlertSection.raised_by": "Who raised it.",
    "AlertSection.valid_until": "When the alert lapses.",
    "ProbationSection.event": "What happened: allocation, compliance, recall ...",
    "ProbationSection.supervising_officer": "The probation practitioner managing the case.",
    "ProbationSection.previous_supervising_officer": "The practitioner before a change.",
    "ProbationSection.licence_start": "When the licence began.",
    "ProbationSection.licence_end": "When the licence ends.",
    "ProbationSection.licence_conditions": "Licence conditions and how they are kept.",
    "ProbationSection.recall": "A recall to custody.",
    "ProbationSection.effective_from": "When the change takes effect.",
    "ProbationSection.notes": "The practitioner's notes, in their words.",
    "Recall.recalled_on": "The date of recall.",
    "Recall.recall_type": "Fixed-term or standard recall.",
    "Recall.reason": "Why the person was recalled.",
    "MappaSection.category": "MAPPA category (1-4).",
    "MappaSection.level": "MAPPA management level (1-3).",
    "MappaSection.previous_category": "The category before this change.",
    "MappaSection.previous_level": "The level before this change.",
    "MappaSection.effective_from": "When the category or level took effect.",
    "MappaSection.lead_agency": "The agency that leads the case.",
    "MappaSection.meeting_on": "The MAPPA meeting's date.",
    "MappaSection.meeting_outcome": "What the meeting decided, in words.",
    "MappaSection.next_review_on": "When the case is next reviewed.",
    "ReferralSection.referral_id": "The referral's reference.",
    "ReferralSection.referred_at": "When the referral was made.",
    "ReferralSection.referring_agency": "The agency that referred.",
    "ReferralSection.referrer": "The person who referred.",
    "ReferralSection.grounds": "Why the case qualifies: visible high risk, judgement, escalation.",
    "ReferralSection.dash": "The DASH checklist.",
    "ReferralSection.children_in_household": "How many children live in the household.",
    "ReferralSection.consent": "The victim's consent to referral.",
    "ReferralSection.reason": "Why the referral is made, in the referrer's words.",
    "ReferralSection.outcome": "Whether the referral was accepted.",
    "ReferralSection.intervention": "The intervention offered.",
    "DashChecklist.ticks": "How many answers are 'yes' (14 or more is visible high risk).",
    "DashChecklist.completed_at": "When the checklist was completed.",
    "MeetingSection.forum": "Which meeting: MARAC, MAPPA, triage clinic or the unit.",
    "MeetingSection.meeting_id": "The meeting's reference.",
    "MeetingSection.held_on": "When the meeting was held.",
    "MeetingSection.agenda": "The cases on the agenda.",
    "MeetingSection.actions": "Actions agreed, each with its owner.",
    "MeetingSection.outcomes": "Outcomes recorded, in words.",
    "AgendaItem.case_reference": "The case discussed.",
    "AgendaItem.position": "Its place on the agenda.",
    "AgendaItem.referring_agency": "The agency that referred the case.",
    "MeetingAction.action_id": "The action's reference.",
    "MeetingAction.case_reference": "The case the action belongs to.",
    "MeetingAction.description": "What is to be done, in words.",
    "MeetingAction.due_on": "When it is due.",
    "MeetingAction.status": "Open, done or cancelled.",
}

_SCALARS: dict[object, str] = {
    str: "text",
    int: "whole number",
    bool: "yes/no",
    dt.date: "date",
    dt.datetime: "date and time",
    uuid.UUID: "UUID",
}


@dataclass(frozen=True)
class Entry:
    """One field path of the contract, as the catalogue page lists it."""

    path: str
    meaning: str
    kind: str
    section: str
    special_category: bool
    free_text: bool
    marks: tuple[str, ...]


def _base(annotation: object) -> tuple[object, bool, FieldInfo | None]:
    """The field's type without Optional/Annotated, whether it is a list, its item limits."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        inner, *meta = typing.get_args(annotation)
        base, is_list, _ = _base(inner)
        limits = next((m for m in meta if isinstance(m, FieldInfo)), None)
        return base, is_list, limits
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _base(args[0])
    if origin is list:
        (item,) = typing.get_args(annotation)
        base, _, limits = _base(item)
        return base, True, limits
    return annotation, False, None


def _max_length(*infos: FieldInfo | None) -> int | None:
    for info in infos:
        for meta in info.metadata if info else ():
            if isinstance(meta, MaxLen):
                return meta.max_length
    return None


def _item_and_field(info: FieldInfo) -> tuple[FieldInfo | None, ...]:
    _, is_list, item_info = _base(info.annotation)
    return (item_info,) if is_list else (item_info, info)


def _kind(annotation: object, info: FieldInfo) -> str:
    base, is_list, _ = _base(annotation)
    if isinstance(base, type) and issubclass(base, BaseModel):
        text = "section"
    elif isinstance(base, type) and issubclass(base, Enum):
        text = "one of: " + ", ".join(f"`{m.value}`" for m in base)
    elif typing.get_origin(base) is typing.Literal:
        text = "one of: " + ", ".join(f"`{v}`" for v in typing.get_args(base))
    else:
        text = _SCALARS.get(base, getattr(base, "__name__", str(base)))
        limit = _max_length(*_item_and_field(info))
        if base is str and limit is not None:
            text += f" (up to {limit:,} characters)"
    if is_list:
        return "list of sections" if text == "section" else f"list of {text}"
    return text


def _doc(cls: type) -> str:
    """The first paragraph of a class's own docstring, if it has one."""
    own = cls.__dict__.get("__doc__")
    return " ".join(inspect.cleandoc(own).split("\n\n")[0].split()) if own else ""


def _meaning(owner: type[BaseModel], name: str, info: FieldInfo) -> str:
    """The field's description, else the glossary's, else its type's docstring."""
    if info.description:
        return info.description
    if f"{owner.__name__}.{name}" in GLOSSARY:
        return GLOSSARY[f"{owner.__name__}.{name}"]
    base, _, _ = _base(info.annotation)
    if isinstance(base, type) and issubclass(base, BaseModel | Enum) and _doc(base):
        return _doc(base)
    return ""


def _marks(info: FieldInfo) -> tuple[str, ...]:
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    marks = extra.get(MARKS_KEY)
    return tuple(str(m) for m in marks) if isinstance(marks, list) else ()


def entries(model: type[BaseModel] = Exchange) -> list[Entry]:
    """Every field path of ``model``, sections before their fields, in declaration order."""
    found: list[Entry] = []

    def walk(current: type[BaseModel], prefix: str, special: bool) -> None:
        for name, info in current.model_fields.items():
            base, is_list, _ = _base(info.annotation)
            path = f"{prefix}{name}" + ("[]" if is_list else "")
            marks = _marks(info)
            is_special = special or str(Mark.SPECIAL_CATEGORY) in marks
            is_model = isinstance(base, type) and issubclass(base, BaseModel)
            free = str(Mark.FREE_TEXT) in marks
            found.append(
                Entry(
                    path=path,
                    meaning=_meaning(current, name, info),
                    kind=_kind(info.annotation, info),
                    section=section_of(path) if prefix or is_model else "",
                    special_category=is_special,
                    free_text=free,
                    marks=marks,
                )
            )
            if isinstance(base, type) and issubclass(base, BaseModel):
                walk(base, path + ".", is_special)

    walk(model, "", False)
    return found


def section_of(path: str) -> str:
    """``payload.crime`` for anything under it, ``subjects[]`` for a person's fields."""
    steps = path.split(".")
    return ".".join(steps[:2]) if steps[0] == "payload" and len(steps) > 1 else steps[0]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(bundle: PolicyBundle | None = None) -> str:
    """The catalogue page in Markdown, one table per section.

    Given an agreement, each field also shows the data category its
    ``field_catalogue`` files it under, and Art 9 counts the catalogue's special
    categories as well as the contract's mark.
    """
    rows = entries(Exchange)
    generated = (
        "<!-- Generated from contracts/v1.py by `gateway policy catalogue --output "
        "docs/fields.md`; do not edit by hand. -->"
    )
    if bundle is not None:
        generated = (
            f"<!-- Generated from contracts/v1.py and {bundle.agreement_id} "
            f"({bundle.version}) by `gateway policy catalogue --policy DIR`. -->"
        )
    lines = [
        "# Field catalogue",
        "",
        generated,
        "",
        "Every field path of the canonical record (contract version "
        f"{Exchange.model_fields['contract_version'].default}), as policies name them in "
        "`fields`, `field_catalogue`, prohibitions and policy tests. `[]` steps into every "
        "item of a list; naming a section names every field in it. See "
        "[policy.md](policy.md) for the language.",
        "",
        "- **Art 9**: special category data (UK GDPR Art 9). It crosses only under a flow "
        "that names an Art 9 condition, and only the minimum.",
        "- **Free text**: prose a person typed. It can hold anything, health details "
        "included, so treat it as possibly special category: share it only under a flow "
        "with an Art 9 condition, or drop or truncate it.",
        "- **Marks**: what the contract itself makes policy honour whatever a flow allows: "
        "`victim_location` (never sent to a perpetrator-facing recipient), "
        "`restricted_access` (only a party that honours probation's access marks), "
        "`special_category`.",
        "",
    ]
    if bundle is not None:
        lines[-1:-1] = [
            f"- **Category**: the data category the {bundle.agreement_id} agreement files the "
            "field under (its `field_catalogue`, closest enclosing entry).",
        ]
    sections: dict[str, list[Entry]] = {}
    for entry in rows:
        sections.setdefault(entry.section, []).append(entry)
    for section, members in sections.items():
        title = f"`{section}`" if section else "The envelope"
        lines += [f"## {title}", ""]
        head = next((e for e in members if e.path == section), None)
        if head is not None:
            lines += [head.meaning, ""]
        columns = ["Path", "Meaning", "Type", "Art 9", "Free text", "Marks"]
        if bundle is not None:
            columns.insert(3, "Category")
        lines += ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
        for e in members:
            special = e.special_category or (bundle is not None and bundle.is_special(e.path))
            cells = [
                f"`{e.path}`",
                _cell(e.meaning),
                _cell(e.kind),
                "yes" if special else "",
                "yes" if e.free_text else "",
                ", ".join(e.marks),
            ]
            if bundle is not None:
                category = bundle.category_of(e.path)
                cells.insert(3, category.id if category else "")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def write(output: Path = DEFAULT_OUTPUT, bundle: PolicyBundle | None = None) -> Path:
    output.write_text(render(bundle), encoding="utf-8")
    return output
