"""MAPPA notification <-> canonical exchange, field by field."""

from __future__ import annotations

from typing import Any

from adapters.alerts import alert_section, alert_urgency, native_alert
from adapters.base import (
    IngestContext,
    collect_identifiers,
    drop_empty,
    identifier_values,
    native_purposes,
    person_name,
)
from adapters.mappa.native import MappaNotification
from adapters.meetings import canonical_actions, native_actions
from contracts import (
    Category,
    Exchange,
    IdentifierSystem,
    MappaSection,
    MeetingForum,
    MeetingSection,
    Payload,
    Subject,
    SubjectRole,
)
from contracts.ids import new_id
from gateway.errors import FieldProblem, InvalidRecord

FORMAT = "mappa/1"
OFFENDER_REF = "O1"
#: Roles the ``persons`` list can say; any other canonical role renders as ``other``.
PERSON_ROLES = ("victim", "child", "witness")


def check_notification(note: MappaNotification) -> None:
    """The offender must be identifiable, and a meeting outcome must carry its meeting."""
    problems = []
    person = note.offender
    if not (person.crn or person.noms_number or person.pnc_id):
        problems.append(FieldProblem("offender", "needs a crn, noms_number or pnc_id"))
    refs = [p.ref for p in note.persons]
    for i, ref in enumerate(refs):
        if ref == OFFENDER_REF or ref in refs[:i]:
            problems.append(
                FieldProblem(
                    f"persons[{i}].ref", f"ref {ref!r} is taken: each person needs their own"
                )
            )
    if note.kind == "meeting_outcome" and note.meeting is None:
        problems.append(FieldProblem("meeting", "a meeting_outcome needs its meeting"))
    if note.kind == "alert" and note.alert is None:
        problems.append(FieldProblem("alert", "a notification of kind alert needs its alert"))
    if note.kind != "alert" and note.alert is not None:
        problems.append(FieldProblem("kind", "a notification with an alert is of kind alert"))
    if problems:
        raise InvalidRecord("the MAPPA notification is not valid", problems)


def _subject(note: MappaNotification) -> Subject:
    person = note.offender
    return Subject(
        ref=OFFENDER_REF,
        role=SubjectRole.OFFENDER,
        identifiers=collect_identifiers(
            (IdentifierSystem.CRN, person.crn),
            (IdentifierSystem.NOMS_NUMBER, person.noms_number),
            (IdentifierSystem.PNC_ID, person.pnc_id),
        ),
        name=person_name(person.forename, person.surname),
        date_of_birth=person.dob,
    )


def _category(note: MappaNotification) -> Category:
    if note.kind == "alert":
        return Category.URGENT_ALERT
    if note.kind == "meeting_outcome":
        return Category.MEETING_FEED
    return Category.OFFENDER_MANAGEMENT


def to_canonical(note: MappaNotification, context: IngestContext) -> Exchange:
    alert = alert_section(note.alert, context.received_at) if note.alert else None
    meeting = None
    if note.meeting:
        meeting = MeetingSection(
            forum=MeetingForum.MAPPA,
            meeting_id=note.meeting.id,
            held_on=note.meeting.date,
            area=note.area,
            actions=canonical_actions(note.meeting.actions, note.case_reference),
            outcomes=[note.meeting.outcome] if note.meeting.outcome else [],
        )
    previous = note.previous
    return Exchange(
        exchange_id=new_id(),
        source_partner=context.source_partner,
        submitted_at=context.received_at,
        category=_category(note),
        purposes=note.declared(),
        urgency=alert_urgency(note.urgency, alert is not None),
        case_reference=note.case_reference,
        subjects=[
            _subject(note),
            *(
                Subject(
                    ref=p.ref,
                    role=SubjectRole(p.role),
                    name=person_name(p.forename, p.surname),
                    date_of_birth=p.dob,
                )
                for p in note.persons
            ),
        ],
        payload=Payload(
            mappa=MappaSection(
                category=note.category,
                level=note.level,
                previous_category=previous.category if previous else None,
                previous_level=previous.level if previous else None,
                effective_from=note.effective,
                lead_agency=note.lead_agency,
                meeting_on=note.meeting.date if note.meeting else None,
                meeting_outcome=note.meeting.outcome if note.meeting else None,
                next_review_on=note.meeting.next_review if note.meeting else None,
            ),
            meeting=meeting,
            alert=alert,
        ),
    )


def from_canonical(record: dict[str, Any]) -> dict[str, Any]:
    """Render a canonical record (possibly minimised: any field may be absent)."""
    payload = record.get("payload") or {}
    mappa = payload.get("mappa") or {}
    meeting = payload.get("meeting")
    subjects = record.get("subjects") or []
    offender: dict[str, Any] | None = next(
        (s for s in subjects if s.get("role") == "offender"), None
    )
    offender = offender or next(
        (s for s in subjects if s.get("role") in ("perpetrator", "suspect")), None
    )
    offender = offender or next(iter(subjects), {})
    ids = identifier_values(offender)
    name = offender.get("name") or {}
    native = {
        "format": FORMAT,
        "kind": "alert"
        if payload.get("alert")
        else "meeting_outcome"
        if meeting
        else "level_change",
        **native_purposes(record),
        "case_reference": record.get("case_reference"),
        "urgency": record.get("urgency"),
        "area": (meeting or {}).get("area"),
        "offender": {
            "crn": ids.get("crn"),
            "noms_number": ids.get("noms_number"),
            "pnc_id": ids.get("pnc_id"),
            "forename": name.get("given"),
            "surname": name.get("family"),
            "dob": offender.get("date_of_birth"),
        },
        "persons": [
            {
                "ref": s.get("ref"),
                "role": s.get("role") if s.get("role") in PERSON_ROLES else "other",
                "forename": (s.get("name") or {}).get("given"),
                "surname": (s.get("name") or {}).get("family"),
                "dob": s.get("date_of_birth"),
            }
            for s in subjects
            if s is not offender
        ],
        "category": mappa.get("category"),
        "level": mappa.get("level"),
        "previous": {
            "category": mappa.get("previous_category"),
            "level": mappa.get("previous_level"),
        },
        "effective": mappa.get("effective_from"),
        "lead_agency": mappa.get("lead_agency"),
        "meeting": None
        if not meeting
        else {
            "id": meeting.get("meeting_id"),
            "date": meeting.get("held_on"),
            "outcome": mappa.get("meeting_outcome"),
            "next_review": mappa.get("next_review_on"),
            "actions": native_actions(meeting.get("actions")),
        },
        "alert": native_alert(payload.get("alert")),
    }
    return drop_empty(native)
